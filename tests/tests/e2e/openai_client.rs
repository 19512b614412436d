//! The official `openai` Python package against the local server. The test command
//! installs it into a virtualenv and points `CONFAB_PYTHON` at that interpreter.

use confab_tests::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_official_openai_python_client_works_unchanged() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = str_field(&app.create_api_key(&ada.access_token, "python").await, "key");
    run_python(Some("openai_client.py"), vec![app.base_url.clone(), key, "echo".into()]).await;
}
