//! The official `openai` Python package against the local server. The test command
//! installs it into a virtualenv and points `CONFAB_PYTHON` at that interpreter.

use confab_tests::mock::{Format, MockModels, spawn_app_with_mock};
use confab_tests::python::run_script;
use confab_tests::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_official_openai_python_client_works_unchanged() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = str_field(&app.create_api_key(&ada.access_token, "python").await, "key");
    let args = vec![app.base_url.clone(), key, "echo".into()];
    run_script("openai_client.py", args, "the `openai` package").await;
}

/// One model per wire format; Gemini's is a Gemini 3 model, which wants its thought
/// signatures back.
const MODELS: [(&str, Format, &str); 4] = [
    ("oa-tools", Format::OpenAi, "openai"),
    ("an-tools", Format::Anthropic, "anthropic"),
    ("gemini-3-flash", Format::Gemini, "gemini"),
    ("br-tools", Format::Bedrock, "bedrock"),
];

/// Tools (streamed and not, results sent back), images, `response_format`, `stop`,
/// `seed` and `temperature` with the official client, in every wire format behind the
/// model's name; the script reads what reached the provider from the mock's request log.
#[tokio::test(flavor = "multi_thread")]
async fn the_openai_client_uses_tools_images_and_options_in_every_format() {
    let models =
        MODELS.iter().fold(MockModels::new(), |models, (name, format, _)| models.chat(*format, name));
    let (app, mock) = spawn_app_with_mock(&models, &[]).await;
    let ada = app.register("ada@example.com").await;
    let key = str_field(&app.create_api_key(&ada.access_token, "python").await, "key");
    let mut args = vec![app.base_url.clone(), key, mock.base_url()];
    args.extend(MODELS.iter().map(|(name, _, format)| format!("{name}={format}")));
    run_script("openai_tools.py", args, "the `openai` package").await;
}
