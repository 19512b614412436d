//! `confab-web-dist [app-dir] [out-dir]` (default `web/app` → `web/dist`): the web app as
//! the static files the deployments serve, laid out by the core's `webapp` rules, so a
//! bucket or Workers' static assets hold exactly what the local server answers. The
//! output folder is replaced.

use bytes::Bytes;
use confab_core::webapp::WebApp;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let app_dir = args.next().unwrap_or_else(|| "web/app".into());
    let out_dir = args.next().unwrap_or_else(|| "web/dist".into());
    match write_dist(&app_dir, &out_dir) {
        Ok(count) => {
            println!("{}: {count} files", out_dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("confab-web-dist: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_dist(app_dir: &Path, out_dir: &Path) -> Result<usize, String> {
    let mut files = Vec::new();
    read_tree(app_dir, app_dir, &mut files).map_err(|e| format!("reading {}: {e}", app_dir.display()))?;
    let app = WebApp::new(files).ok_or_else(|| format!("{} has no index.html", app_dir.display()))?;
    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir).map_err(|e| format!("clearing {}: {e}", out_dir.display()))?;
    }
    let dist = app.static_files();
    for (name, bytes) in &dist {
        let path = out_dir.join(name);
        let written =
            path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&path, bytes));
        written.map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(dist.len())
}

/// Every file under `dir`, named by its path from `root` with `/` separators.
fn read_tree(root: &Path, dir: &Path, files: &mut Vec<(String, Bytes)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            read_tree(root, &path, files)?;
        } else {
            let name = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            files.push((name, Bytes::from(std::fs::read(&path)?)));
        }
    }
    Ok(())
}
