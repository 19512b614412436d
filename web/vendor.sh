#!/usr/bin/env bash
# Refreshes web/vendor/ from the npm registry: the pinned versions below, only the
# built files the app loads (and axe-core, which only the browser tests inject), each
# with its license. The app loads them as native ES modules with no build step, so
# bare imports are pointed at the vendored files and the two non-module libraries
# gain an `export default`.
set -euo pipefail
cd "$(dirname "$0")/app"
PACKAGES=(preact@10.29.8 htm@3.1.1 marked@15.0.12 dompurify@3.5.0
  @highlightjs/cdn-assets@11.12.0 qrcode-generator@1.5.2 uplot@1.6.32 axe-core@4.14.1)
LANGUAGES=(bash javascript typescript python rust json xml css sql go java c cpp yaml)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts "${PACKAGES[@]}" >/dev/null)
m="$tmp/node_modules"
rm -rf vendor && mkdir -p vendor/licenses vendor/hljs
cp "$m/preact/dist/preact.module.js" vendor/preact.js
sed 's|from"preact"|from"./preact.js"|' "$m/preact/hooks/dist/hooks.module.js" > vendor/preact-hooks.js
cp "$m/htm/dist/htm.module.js" vendor/htm.js
cp "$m/marked/lib/marked.esm.js" vendor/marked.js
cp "$m/dompurify/dist/purify.es.mjs" vendor/purify.js
cp "$m/@highlightjs/cdn-assets/es/core.min.js" vendor/hljs/core.js
for lang in "${LANGUAGES[@]}"; do cp "$m/@highlightjs/cdn-assets/es/languages/$lang.min.js" "vendor/hljs/$lang.js"; done
{ cat "$m/qrcode-generator/qrcode.js"; echo 'export default qrcode;'; } > vendor/qrcode.js
cp "$m/uplot/dist/uPlot.esm.js" vendor/uplot.js
cp "$m/uplot/dist/uPlot.min.css" vendor/uplot.css
cp "$m/axe-core/axe.min.js" ../../tests/webapp/axe.min.js
cp "$m/preact/LICENSE" vendor/licenses/preact.txt
cp "$m/htm/LICENSE" vendor/licenses/htm.txt
cp "$m/marked/LICENSE.md" vendor/licenses/marked.txt
cp "$m/dompurify/LICENSE" vendor/licenses/dompurify.txt
cp "$m/@highlightjs/cdn-assets/LICENSE" vendor/licenses/highlight.js.txt
head -16 "$m/qrcode-generator/qrcode.js" > vendor/licenses/qrcode-generator.txt
cp "$m/uplot/LICENSE" vendor/licenses/uplot.txt
cp "$m/axe-core/LICENSE" ../../tests/webapp/axe-core-LICENSE.txt
printf '%s\n' "${PACKAGES[@]}" > vendor/VERSIONS
