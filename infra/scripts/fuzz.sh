#!/usr/bin/env bash
# Fuzzes the parsers of what callers send, with cargo-fuzz and libFuzzer (the targets are in
# fuzz/: `query_string`, the list/search query parser; `offline_body`, the forced-offline body
# parser): each target runs for FUZZ_SECONDS (default 60) and the script fails if one finds a
# crash (a panic, or an answer other than Ok or a field-named 4xx). The input is kept in
# fuzz/artifacts/<target>/ and can be replayed with
#   RUSTC_BOOTSTRAP=1 fuzz/.tools/bin/cargo-fuzz run <target> fuzz/artifacts/<target>/<file>
#
# Stable Rust only: cargo-fuzz passes -Z flags (sanitizer, coverage), which RUSTC_BOOTSTRAP=1
# lets a stable compiler accept. cargo-fuzz itself is installed on first use into fuzz/.tools, or
# into CARGO_FUZZ_ROOT when set (a folder that outlives the clone saves the install).
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
CARGO_FUZZ_VERSION=0.13.2
TARGETS=(query_string offline_body)
TOOLS="${CARGO_FUZZ_ROOT:-$PWD/fuzz/.tools}"

if ! "$TOOLS/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  started=$SECONDS
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$TOOLS"
  echo "cargo-fuzz $CARGO_FUZZ_VERSION installed in $((SECONDS - started)) s"
fi
export PATH="$TOOLS/bin:$PATH" RUSTC_BOOTSTRAP=1

started=$SECONDS
cargo fuzz build
echo "fuzz targets built in $((SECONDS - started)) s"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=()
for target in "${TARGETS[@]}"; do
  echo "== fuzz $target for ${FUZZ_SECONDS} s"
  log="$logs/$target.log"
  # The corpus is fuzz/corpus/<target>: the committed seeds (seed-*) and what earlier runs found.
  if cargo fuzz run "$target" -- -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  else
    tail -n 60 "$log"
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found a crash in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
