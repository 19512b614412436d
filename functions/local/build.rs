//! Rebuilds the server when the web app changes: `include_dir!` embeds `web/app` but
//! cannot tell cargo to watch it (cargo scans a watched folder recursively).
fn main() {
    println!("cargo:rerun-if-changed=../../web/app");
}
