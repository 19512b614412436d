//! The official `anthropic` Python package against `/v1/messages` on the local server,
//! over models the mock provider answers in each wire format (OpenAI, Anthropic, Gemini,
//! Bedrock). The test command installs the package into a virtualenv and points
//! `CONFAB_PYTHON` at it.

use crate::providers::{FORMATS, setup};
use confab_tests::python::run_script;
use confab_tests::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_official_anthropic_python_client_works_unchanged_over_every_format() {
    let s = setup(&[]).await;
    let key = str_field(&s.app.create_api_key(&s.user.access_token, "python").await, "key");
    let models = FORMATS.map(|(model, _)| model.to_owned());
    let args = [s.app.base_url.clone(), key, s.mock.base_url()].into_iter().chain(models);
    run_script("anthropic_client.py", args.collect(), "the `anthropic` package").await;
}
