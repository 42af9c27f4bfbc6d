#!/usr/bin/env bash
# The quick start: build, sync the demo intel, then match the demo alerts the
# way `integrate` would (printing the events instead of sending them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
cargo build --release --quiet
bin="target/x86_64-unknown-linux-gnu/release/intelmatch"
cfg="$here/intelmatch.toml"

echo "== sync the demo sources (STIX bundle, MISP feed, list)"
"$bin" --config "$cfg" -q sync
echo
echo "== look a few values up"
"$bin" --config "$cfg" -q lookup 185.220.101.47 portal.login-verify-secure.net \
    'HTTP://FILES.DROPZONE-MIRROR.COM:80/dl/invoice-2024-05.exe' evil-c2.duckdns.org 8.8.8.8 || true
echo
echo "== match the demo alerts as integrate would (nothing is sent)"
for alert in "$here"/alerts/*.json; do
    echo "-- $(basename "$alert")"
    "$bin" --config "$cfg" -q match "$alert"
done
echo
echo "== the native event integrate would send for the C2 connection"
"$bin" --config "$cfg" -q match --json "$here/alerts/sysmon-network-c2.json"
