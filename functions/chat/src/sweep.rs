//! The stream-lease sweep on AWS Lambda, run by an EventBridge schedule: it ends the
//! replies whose producer died and nobody reads. All wiring is in `confab-lambda`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    confab_lambda::run_sweep().await
}
