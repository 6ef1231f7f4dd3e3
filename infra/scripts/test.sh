#!/usr/bin/env bash
# Runs the whole test suite on a real DynamoDB-protocol server: installs moto's server into .venv
# on first use (PyPI), starts it on a free loopback port, runs every Rust test against it, stops it.
# Then checks that no suite logged a raw token (infra/scripts/check-secrets.sh).
# Extra arguments go to `cargo test` (e.g. `infra/scripts/test.sh -p message-center`).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/moto.sh

start_moto
# Every suite's logs land here (tests/src/logs.rs); the scan below reads this run's alone.
rm -rf target/test-logs
cargo test --workspace "$@"
infra/scripts/check-secrets.sh
