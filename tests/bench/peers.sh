#!/usr/bin/env bash
# confab beside its peers: LiteLLM's proxy and Portkey's gateway, installed under
# ~/.cache/confab/peers (pip and npm; Portkey on the Node 22 of scripts/edge-tools), all
# pointed at one mock provider (OpenAI wire format), then the same load generator
# (confab-bench) against the mock directly, confab, LiteLLM and Portkey: streamed and
# whole completions at concurrency 1 and 32. Prints one Markdown table (the README's).
# Portkey runs twice: with the OpenAI format upstream like the others, and with the
# mock's Gemini format, one of the providers whose streams Portkey rebuilds (see the
# README for why that matters).
# Not part of the test command: it downloads the peers.
#
#   tests/bench/peers.sh              # 500 completions per row
#   REQUESTS=2000 tests/bench/peers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/confab/target}"
peers="${CONFAB_CACHE:-$HOME/.cache/confab}/peers"
litellm_version=1.108.7
portkey_version=1.15.2

log() { echo "peers: $*" >&2; }

# Newer LiteLLM releases' `proxy` extra needs `litellm-proxy`, which PyPI does not carry;
# 1.108.7 is the newest whose extra installs.
venv="$peers/litellm"
installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null || true)"
if [ "$installed" != "$litellm_version" ]; then
    log "installing LiteLLM $litellm_version"
    rm -rf "$venv" && python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "litellm[proxy]==$litellm_version"
fi

eval "$(scripts/edge-tools)"
portkey="$peers/portkey"
gateway="$portkey/node_modules/@portkey-ai/gateway"
if [ "$(node -p "require('$gateway/package.json').version" 2>/dev/null)" != "$portkey_version" ]; then
    log "installing Portkey's gateway $portkey_version"
    rm -rf "$portkey" && mkdir -p "$portkey"
    echo '{"private": true}' > "$portkey/package.json"
    (cd "$portkey" && npm install --no-audit --no-fund --loglevel=error "@portkey-ai/gateway@$portkey_version")
fi

cargo build --quiet --profile load -p confab-local -p confab-mock-provider -p confab-bench
bin="$CARGO_TARGET_DIR/load"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Polls a URL until it answers (any HTTP status), for up to two minutes (LiteLLM takes
# about half a minute here).
wait_for() {
    for _ in $(seq 1200); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    log "error: $2 did not start (log: $work/$2.log)"; cat "$work/$2.log" >&2; exit 1
}

"$bin/confab-mock-provider" --listen 127.0.0.1:0 --model bench-model >"$work/mock.url" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.url" ] && break; sleep 0.1; done
mock="$(head -n1 "$work/mock.url")"
mock="${mock%/}"

litellm_port="$(free_port)"
cat >"$work/litellm.yaml" <<YAML
model_list:
  - model_name: bench-model
    litellm_params:
      model: openai/bench-model
      api_base: $mock/v1
      api_key: bench-key
YAML
# The proxy refuses to start without a strong master key: a fresh one per run.
litellm_key="sk-$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
LITELLM_MASTER_KEY="$litellm_key" LITELLM_LOG=ERROR "$venv/bin/litellm" --config "$work/litellm.yaml" --host 127.0.0.1 --port "$litellm_port" \
    >"$work/litellm.log" 2>&1 &
pids+=($!)

portkey_port="$(free_port)"
node "$gateway/build/start-server.js" --port="$portkey_port" --headless >"$work/portkey.log" 2>&1 &
pids+=($!)

wait_for "http://127.0.0.1:$litellm_port/health/liveliness" litellm
wait_for "http://127.0.0.1:$portkey_port/" portkey

cat >"$work/peers.json" <<JSON
[
  {"name": "LiteLLM $litellm_version", "base_url": "http://127.0.0.1:$litellm_port/v1", "key": "$litellm_key"},
  {"name": "Portkey $portkey_version", "base_url": "http://127.0.0.1:$portkey_port/v1", "key": "bench-key",
   "headers": {"x-portkey-provider": "openai", "x-portkey-custom-host": "$mock/v1"}},
  {"name": "Portkey $portkey_version (Gemini upstream)", "base_url": "http://127.0.0.1:$portkey_port/v1",
   "key": "bench-key", "headers": {"x-portkey-provider": "google", "x-portkey-custom-host": "$mock"}}
]
JSON
"$bin/confab-bench" --mock "$mock" --peers "$work/peers.json" --non-streaming --requests "${REQUESTS:-500}"
