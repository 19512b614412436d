//! `confab-keys init | rotate [--force] [--propagation-seconds N]`: the signing-key
//! secrets of one deployment in AWS Secrets Manager. AWS credentials, region and
//! endpoint come from the standard environment; `CONFAB_SECRETS_PREFIX` names the
//! deployment (as on its functions), `CONFAB_ACCESS_TTL_SECONDS` its token lifetime.

use confab_aws::{AwsClients, KeySecrets, S3Options};
use confab_core::Config;
use confab_native::{OsRandom, SystemClock};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: confab-keys init | rotate [--force] [--propagation-seconds N]";
/// The functions' secrets cache (10 s) plus their rate-limited key re-read (10 s), with margin.
const DEFAULT_PROPAGATION: Duration = Duration::from_secs(30);

enum Command {
    Init,
    Rotate { force: bool, propagation: Duration },
}

fn parse(args: &[String]) -> Option<Command> {
    match args {
        [cmd] if cmd == "init" => Some(Command::Init),
        [cmd, rest @ ..] if cmd == "rotate" => {
            let (mut force, mut propagation) = (false, DEFAULT_PROPAGATION);
            let mut rest = rest.iter();
            while let Some(arg) = rest.next() {
                match arg.as_str() {
                    "--force" => force = true,
                    "--propagation-seconds" => propagation = Duration::from_secs(rest.next()?.parse().ok()?),
                    _ => return None,
                }
            }
            Some(Command::Rotate { force, propagation })
        }
        _ => None,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = parse(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let settings = confab_native::env_settings();
    let config = match Config::from_settings(&settings) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let prefix = settings.get("CONFAB_SECRETS_PREFIX").map_or("", String::as_str);
    let clients = AwsClients::from_env(S3Options::from_env()).await;
    let secrets = KeySecrets { client: &clients.secrets, prefix };
    let outcome = match command {
        Command::Init => secrets.init(&OsRandom, &SystemClock).await.map(|created| match created {
            true => format!("created the signing-key secrets under {prefix:?}"),
            false => "the signing-key secrets already exist; nothing changed".to_string(),
        }),
        Command::Rotate { force, propagation } => secrets
            .rotate(&OsRandom, &SystemClock, config.access_ttl_seconds, force, propagation)
            .await
            .map(|kid| format!("new signing key {kid}; the previous key verifies until its tokens expire")),
    };
    match outcome {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("confab-keys: {e}");
            ExitCode::FAILURE
        }
    }
}
