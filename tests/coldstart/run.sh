#!/usr/bin/env bash
# Lambda cold-start benchmark: builds the four function binaries with cargo-lambda for
# x86_64 and arm64 (binary and zip), then starts each x86_64 binary many times against
# a local Lambda Runtime API server and prints Markdown tables (see the README,
# "Cold start"). Arguments go to the benchmark, e.g. `--runs 50` or `--mode embedded`.
# CONFAB_COLDSTART_SKIP_BUILD=1 reuses the binaries already built.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${CONFAB_TEST_VENV:-$HOME/.cache/confab/venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
[ -x "$venv/bin/cargo-lambda" ] || "$venv/bin/pip" install --quiet cargo-lambda   # brings zig (ziglang)
export PATH="$venv/bin:$PATH"
# cargo-lambda reads the target folder from here (not from --target-dir).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
x86="$CARGO_TARGET_DIR/lambda"
arm="$CARGO_TARGET_DIR/lambda-arm64"
packages=(-p confab-auth -p confab-chat -p confab-session -p confab-admin)

if [ -z "${CONFAB_COLDSTART_SKIP_BUILD:-}" ]; then
    rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
    for format in binary zip; do
        cargo lambda build --release --quiet --output-format "$format" --lambda-dir "$x86" "${packages[@]}"
        cargo lambda build --release --quiet --arm64 --output-format "$format" --lambda-dir "$arm" "${packages[@]}"
    done
fi
cargo build --release --quiet -p confab-coldstart
"$CARGO_TARGET_DIR/release/confab-coldstart" --lambda-dir "$x86" --sizes "x86_64=$x86" --sizes "arm64=$arm" "$@"
