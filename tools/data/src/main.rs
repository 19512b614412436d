//! `confab-data export FILE | import [--partial] FILE`: the whole store and all blobs
//! of one deployment to a file and back, between any of confab's storage setups (see
//! the README, "Data tool"). Where the data lives comes from the `CONFAB_*` settings
//! in the environment, as for the local server and the Lambdas.

use confab_data::{Storage, export, import};
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: confab-data export FILE | import [--partial] FILE";

enum Command<'a> {
    Export(&'a Path),
    Import { file: &'a Path, partial: bool },
}

fn parse(args: &[String]) -> Option<Command<'_>> {
    match args {
        [cmd, file] if cmd == "export" => Some(Command::Export(Path::new(file))),
        [cmd, file] if cmd == "import" => Some(Command::Import { file: Path::new(file), partial: false }),
        [cmd, flag, file] if cmd == "import" && flag == "--partial" => {
            Some(Command::Import { file: Path::new(file), partial: true })
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
    let storage = match Storage::from_settings(&settings).await {
        Ok(storage) => storage,
        Err(e) => {
            eprintln!("confab-data: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        Command::Export(file) => export(&storage, file).await.map(|counts| {
            format!(
                "exported {} items and {} blobs ({} bytes) from {} to {}",
                counts.items,
                counts.blobs,
                counts.blob_bytes,
                storage.name,
                file.display()
            )
        }),
        Command::Import { file, partial } => import(&storage, file, partial).await.map(|done| {
            let cut_short = done.cut_short.map(|why| format!("\nthe file is not whole ({why}): imported what came before"));
            format!(
                "imported {} into {}: {} items written, {} already there; {} blobs written, {} already there{}",
                file.display(),
                storage.name,
                done.items_written,
                done.items_skipped,
                done.blobs_written,
                done.blobs_skipped,
                cut_short.unwrap_or_default()
            )
        }),
    };
    match outcome {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("confab-data: {e}");
            ExitCode::FAILURE
        }
    }
}
