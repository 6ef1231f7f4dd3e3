#!/usr/bin/env bash
# Schemathesis (PyPI) against the local API, driven by openapi.yaml as the local API serves it at
# /openapi.json: generated valid and invalid requests to every operation, with a platform
# operator's token of a tenant of its own (so a generated forced offline of the demo tenants does
# not revoke it). Fails on any 5xx and on any response that breaks the document: status, content
# type, headers or body schema. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/schemathesis ]; then
  echo "installing schemathesis into .venv (once)..."
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check schemathesis
fi

cargo build --quiet -p local-api
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
target/debug/local-api --port "$port" --cleanup-every 0 --tokens tests/schemathesis-tokens.json \
  >target/schemathesis-local-api.log 2>&1 &
api_pid=$!
trap 'kill $api_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$api_pid" 2>/dev/null; then
    echo "the local API exited; its log:" >&2; cat target/schemathesis-local-api.log >&2; exit 1
  fi
  sleep 0.2
done

SCHEMATHESIS_HOOKS="" .venv/bin/schemathesis run "http://127.0.0.1:$port/openapi.json" \
  --url "http://127.0.0.1:$port" \
  --header "Authorization: Bearer schemathesis-platform-operator" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" \
  --seed 1 \
  --generation-database none \
  --workers 1
