#!/usr/bin/env bash
# Runs the whole test suite on a real DynamoDB-protocol server: installs moto's server into .venv
# on first use (PyPI), starts it on a free loopback port behind the strict DynamoDB proxy
# (infra/scripts/strict_dynamodb.py: AWS's conflicts, rates and limits), checks the proxy and the
# IAM checker themselves and the template's stream filters, runs every Rust test against the
# proxy, stops both. Then checks that no suite logged a raw token (infra/scripts/check-secrets.sh).
# Extra arguments go to `cargo test` (e.g. `infra/scripts/test.sh -p message-center`).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/moto.sh

start_moto
echo "== the strict DynamoDB proxy's own tests (its models against moto)"
"$MOTO_PYTHON" -m unittest infra/scripts/test_strict_dynamodb.py
echo "== the IAM checker's own tests (tests/iam_check.py)"
"$MOTO_PYTHON" tests/iam_check.py --self-test
echo "== the presence events' stream filters against stream records (tests/stream_filter_check.py)"
"$MOTO_PYTHON" tests/stream_filter_check.py
# Every suite's logs land here (tests/src/logs.rs); the scan below reads this run's alone.
rm -rf target/test-logs target/storm-figures.json
cargo test --workspace "$@"
if [ -f target/storm-figures.json ]; then
  echo "== the connect storm's figures (tests/tests/storm.rs, docs/aws-semantics.md)"
  cat target/storm-figures.json
fi
infra/scripts/check-secrets.sh
