#!/usr/bin/env bash
# Runs the whole test suite on a real DynamoDB-protocol server: installs moto's server into .venv
# on first use (PyPI), starts it on a free loopback port, runs every Rust test against it, stops it.
# Extra arguments go to `cargo test` (e.g. `infra/scripts/test.sh -p message-center`).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/moto.sh

start_moto
cargo test --workspace "$@"
