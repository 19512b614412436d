//! The chat function on AWS Lambda. All wiring is in `confab-lambda`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    confab_lambda::run(confab_core::Function::Chat).await
}
