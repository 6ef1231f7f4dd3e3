#!/usr/bin/env bash
# The admin console (console/) in a real browser: tests/console/test_console.py drives Debian's
# Chromium with Playwright for Python against the release local API (which serves the page at `/`,
# built into the binary), with tenant and user ids above 2^53, WebSocket clients of those users and
# the demo data. It checks the exact ids, search, paging, sorting, Details, a forced offline (the
# user's own socket is told), live updates, the audit trail, sign-in errors, the keyboard and a
# phone width, and writes the documentation's screenshots to docs/console/*.png. Nothing is
# skipped: a missing Chromium or Playwright fails. Run by .ci/run.
#
# CONSOLE_LOCAL_API names a local-api binary to test instead of building target/release/local-api.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium=${CONSOLE_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "tests/console.sh: no Chromium at $chromium (Debian: apt-get install -y chromium; .ci/run installs it)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import playwright.sync_api, websocket' 2>/dev/null; then
  echo "tests/console.sh: Playwright for Python or websocket-client is missing from .venv" >&2
  echo "  (.venv/bin/pip install playwright==1.65.2 websocket-client==1.9.2; .ci/run installs them)" >&2
  exit 1
fi

if [ -z "${CONSOLE_LOCAL_API:-}" ]; then
  # Always asked, not only when the binary is missing: the page is compiled into it
  # (include_str!), so a binary older than console/ would serve an older page. A no-op when fresh.
  cargo build --quiet --release -p local-api
fi

.venv/bin/python tests/console/test_console.py
