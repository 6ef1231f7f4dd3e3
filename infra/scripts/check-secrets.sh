#!/usr/bin/env bash
# No raw token the tests use may appear in any log. The tokens: those the Rust suites made (listed
# by tests/src/logs.rs in target/test-logs/tokens-*.txt, the local API's demo tokens included),
# those of the events/ fixtures and of tests/schemathesis-tokens.json. The logs: the files given,
# else every suite's captured logs (target/test-logs/*.jsonl).
# Usage: infra/scripts/check-secrets.sh [LOG...]
set -euo pipefail
cd "$(dirname "$0")/../.."
shopt -s nullglob
if [ $# -gt 0 ]; then
  log_files=("$@")
else
  log_files=(target/test-logs/*.jsonl)
fi
if [ ${#log_files[@]} -eq 0 ]; then
  echo "check-secrets: no captured logs in target/test-logs: run the test suite first" >&2
  exit 1
fi
tokens=$(mktemp)
trap 'rm -f "$tokens"' EXIT
{
  cat target/test-logs/tokens-*.txt 2>/dev/null || true
  grep -ho 'Bearer [A-Za-z0-9._~+/=-]*' events/*.json | cut -d' ' -f2
  grep -ho '"token": *"[^"]*"' events/*.json tests/schemathesis-tokens.json | sed 's/.*: *"\(.*\)"/\1/'
} | awk 'length($0) >= 8' | sort -u > "$tokens"
lines=$(cat "${log_files[@]}" | wc -l)
# -w: a token counts as found when it stands on its own, not as a part of a longer word.
found=$(grep -F -w -n -f "$tokens" "${log_files[@]}" || true)
if [ -n "$found" ]; then
  head -5 <<<"$found" >&2
  echo "check-secrets: a raw token was logged ($(wc -l <<<"$found") lines; the first above)" >&2
  exit 1
fi
echo "check-secrets: $(wc -l < "$tokens") tokens, none in $lines log lines of ${#log_files[@]} file(s)"
