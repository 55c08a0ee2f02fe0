#!/usr/bin/env bash
# A spec-driven scan of the REST API: starts `parley serve` on 127.0.0.1 with a fresh SQLite
# database and a bootstrapped workspace (sandbox sender, all-scopes API key), then lets
# schemathesis generate requests from /openapi.json and checks every answer: no 5xx, status codes,
# content types, headers and bodies as the document says. Exits non-zero on any failure.
#
#   scripts/scan.sh [max examples per operation]     (default 100; CI runs 20)
#
# schemathesis is installed with pip into a virtualenv under ~/.cache (PARLEY_SCAN_VENV) on first
# use. Only 127.0.0.1 is ever contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${1:-100}"
venv="${PARLEY_SCAN_VENV:-$HOME/.cache/parley-scan-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/parley-target}"

if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "installing schemathesis into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis>=4,<5"
fi

cargo build --quiet --bin parley
parley="$CARGO_TARGET_DIR/debug/parley"

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export PARLEY_DATABASE_URL="sqlite://$work/parley.db?mode=rwc"
export PARLEY_LISTEN="127.0.0.1:$port"
# The sandbox answers at once; do not let a generated ?wait=true hold a worker for 30 s.
export PARLEY_SEND_WAIT_SECS=2
export PARLEY_SANDBOX_STATUS_DELAY_MS=50
export RUST_LOG="${RUST_LOG:-warn}"

bootstrap="$("$parley" bootstrap --workspace Scan --email scan@example.com \
    --password 'scan password 1234' --sandbox-sender +15550001000)"
# The owner's token rather than the API key: keys are rate limited (60 a minute by default),
# and a scan that mostly meets 429 tests nothing behind it.
token="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' <<<"$bootstrap")"

"$parley" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "$base/healthz" >/dev/null

status=0
# From the scratch directory: schemathesis leaves a cache where it runs.
(cd "$work" && "$venv/bin/schemathesis" run "$base/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --request-timeout 35 \
    --suppress-health-check all \
    --seed 1 \
    --no-color) || status=$?

if grep -q 'panicked' "$work/server.log"; then
    echo "the server panicked during the scan:"
    grep -B2 -A10 'panicked' "$work/server.log" | head -n 60
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "--- server log (last 40 lines)"
    tail -n 40 "$work/server.log"
fi
exit "$status"
