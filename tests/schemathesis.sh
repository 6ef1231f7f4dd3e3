#!/usr/bin/env bash
# Schemathesis (PyPI) against the local API, driven by openapi.yaml as the local API serves it at
# /openapi.json: generated valid and invalid requests to every operation, with a platform
# operator's token of a tenant of its own (so a generated forced offline of the demo tenants does
# not revoke it). Fails on any 5xx and on any response that breaks the document: status, content
# type, headers or body schema. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
source infra/scripts/moto.sh # free_port, wait_for_port

if [ ! -x .venv/bin/schemathesis ]; then
  echo "installing schemathesis into .venv (once)..."
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check schemathesis==4.32.5
fi

cargo build --quiet -p local-api
port=$(free_port)
mkdir -p target
LOG_LEVEL=trace target/debug/local-api --port "$port" --cleanup-every 0 --tokens tests/schemathesis-tokens.json \
  >target/schemathesis-local-api.log 2>&1 &
api_pid=$!
trap 'kill $api_pid 2>/dev/null || true' EXIT
wait_for_port "$port" "$api_pid" target/schemathesis-local-api.log

SCHEMATHESIS_HOOKS="" .venv/bin/schemathesis run "http://127.0.0.1:$port/openapi.json" \
  --url "http://127.0.0.1:$port" \
  --header "Authorization: Bearer schemathesis-platform-operator" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" \
  --seed 1 \
  --generation-database none \
  --workers 1

# The local API logged every request at trace: no token may be in its log lines (the start-up
# banner, which prints the demo tokens for the quick start, is not a log line).
grep '^{' target/schemathesis-local-api.log > target/schemathesis-local-api.jsonl
infra/scripts/check-secrets.sh target/schemathesis-local-api.jsonl
