#!/usr/bin/env bash
# Runs the whole test suite on a real DynamoDB-protocol server: installs moto's server into .venv
# on first use (PyPI), starts it on a free loopback port, runs every Rust test against it, stops it.
# Extra arguments go to `cargo test` (e.g. `infra/scripts/test.sh -p message-center`).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The AWS SDK must never look for real credentials or probe the instance-metadata address.
export AWS_EC2_METADATA_DISABLED=true
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

venv=.venv
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing moto's DynamoDB server into $venv (once)..."
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
fi
export MOTO_PYTHON="$PWD/$venv/bin/python"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
# moto, one request at a time (infra/scripts/moto_server.py says why).
"$MOTO_PYTHON" infra/scripts/moto_server.py -H 127.0.0.1 -p "$port" >target/moto.log 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "the moto server exited; its log:" >&2; cat target/moto.log >&2; exit 1
  fi
  sleep 0.2
done
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
echo "DynamoDB-protocol server (moto) at $DYNAMODB_ENDPOINT"

cargo test --workspace "$@"
