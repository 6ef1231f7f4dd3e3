#!/usr/bin/env bash
# The real function binaries, run as Lambda runs them: builds them (release), starts them under
# `cargo lambda watch` (cargo-lambda's Lambda runtime emulator, from PyPI), and invokes every
# events/*.json with `cargo lambda invoke --data-file`, in the order of tests/emulator_scenario.json,
# checking each answer's status and envelope code, and that the invocation goes by one id: the
# fixture's `requestContext.requestId` (API Gateway's; Lambda's for the cleanup and the presence
# events) in the envelope's `ext.requestId`, in every log line of the invocation and in its metric
# line, in target/lambda-watch.log. The store is moto's DynamoDB-protocol server,
# seeded with the demo data by `local-api --seed-only`. Prints each function's first (cold) and
# warm invoke times as the emulator shows them. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
source infra/scripts/moto.sh

if [ ! -x .venv/bin/cargo-lambda ]; then
  echo "installing cargo-lambda into .venv (once)..."
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2 ziglang==0.17.1
fi
if ! .venv/bin/python -c 'import samtranslator' 2>/dev/null; then
  echo "installing aws-sam-translator into .venv (once, for tests/iam_check.py)..."
  .venv/bin/pip install --quiet --disable-pip-version-check aws-sam-translator==1.115.0
fi
export PATH="$PWD/.venv/bin:$PATH"

functions=(online-list online-search online-detail online-off online-audit online-console ws-connect ws-disconnect ws-default online-cleanup online-events)
# Every binary of the workspace, as `cargo lambda watch` builds one (`cargo run --release --bin
# <function>`, features unified across the workspace): so its first invoke of each function
# finds it built and times the function, not cargo.
echo "== building the functions (release)"
cargo build --release --workspace --bins

# Every DynamoDB and Management API action each function performs, as the strict proxy saw it
# (each function names itself in its user agent): what tests/iam_check.py holds the template to.
export STRICT_DYNAMODB_TRACE="$PWD/target/emulator-dynamodb-trace.jsonl"
rm -f "$STRICT_DYNAMODB_TRACE"
start_moto
echo "== seeding the demo data"
cargo run --quiet -p local-api -- --store dynamodb --seed-only

port=$(free_port)
env_vars="DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT,AWS_REGION=$AWS_REGION,AWS_ACCESS_KEY_ID=test,AWS_SECRET_ACCESS_KEY=test"
env_vars+=",AWS_EC2_METADATA_DISABLED=true,PAGE_TOKEN_KEY=emulator-page-token-key,LOG_LEVEL=trace"
# moto serves the API Gateway Management API too, behind the same proxy. The cleanup ends the
# demo's sessions not seen for a minute and deletes those ended a day ago, so that its writes are
# traced too (the demo's online sessions were last seen up to five minutes ago).
env_vars+=",WEBSOCKET_MANAGEMENT_ENDPOINT=$DYNAMODB_ENDPOINT,STALE_AFTER_SECONDS=60,RETENTION_DAYS=1"
cargo lambda watch --release --ignore-changes -A 127.0.0.1 -P "$port" --env-var "$env_vars" \
  >target/lambda-watch.log 2>&1 &
watch_pid=$!
trap 'kill $watch_pid 2>/dev/null || true; stop_moto' EXIT
wait_for_port "$port" "$watch_pid" target/lambda-watch.log
echo "== cargo lambda watch on 127.0.0.1:$port"

# The scenario as lines: event, function, status, code.
steps=$(python3 -c '
import json
for step in json.load(open("tests/emulator_scenario.json"))["invocations"]:
    print(step["event"], step["function"], step["status"] or "-", step["code"] or "-")
')

invoke() { # function, event file, output file; prints milliseconds
  local started ended
  started=$(date +%s%N)
  cargo lambda invoke "$1" -A 127.0.0.1 -P "$port" --data-file "$2" --output-format json >"$3"
  ended=$(date +%s%N)
  echo $(((ended - started) / 1000000))
}

# One id per invocation: prints "ok", or what differs. The invocation's lines are those written to
# the watch log since `offset` under the Lambda request id of the one metric line written since.
check_ids() { # event file, answer file, offset
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys, time
event_file, answer_file, offset = sys.argv[1], sys.argv[2], int(sys.argv[3])
api_id = (json.load(open(event_file)).get("requestContext") or {}).get("requestId")

def new_lines():
    with open("target/lambda-watch.log", "rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    lines = []
    for line in text.splitlines():
        start = line.find("{")
        if start >= 0:
            try:
                lines.append(json.loads(line[start:]))
            except ValueError:
                pass
    return lines

for _ in range(50):  # the lines are written before the answer; a moment's grace all the same
    lines = new_lines()
    metrics = [line for line in lines if isinstance(line, dict) and "_aws" in line]
    if metrics:
        break
    time.sleep(0.1)
if len(metrics) != 1:
    sys.exit(print(f"{len(metrics)} metric lines"))
metric = metrics[0]
lambda_id = metric.get("function_request_id")
expected = api_id or lambda_id
problems = []
if not lambda_id:
    problems.append("no function_request_id on the metric line")
if metric.get("requestId") != expected:
    problems.append(f"metric requestId {metric.get('requestId')}")
logged = [line for line in lines if isinstance(line, dict) and "_aws" not in line and line.get("function_request_id") == lambda_id]
if not logged:
    problems.append("no log line of the invocation")
for line in logged:
    if line.get("requestId") != expected:
        problems.append(f"log line {line.get('message')!r} requestId {line.get('requestId')}")
        break
answer = json.load(open(answer_file))
try:
    body = json.loads(answer.get("body") or "null") if "statusCode" in answer else None
except ValueError:
    body = None
ext = body.get("ext") if isinstance(body, dict) else None
if isinstance(ext, dict) and ext.get("requestId") != expected:
    problems.append(f"ext.requestId {ext.get('requestId')}")
print(f"expected {expected}: " + "; ".join(problems) if problems else "ok")
PY
}

declare -A first_ms
failures=0
out=target/lambda-invoke.json
while read -r event function status code; do
  offset=$(stat -c %s target/lambda-watch.log)
  ms=$(invoke "$function" "events/$event" "$out")
  [ -n "${first_ms[$function]:-}" ] || first_ms[$function]=$ms
  # The answer: an API Gateway response (status, and the envelope's code or the notice's type in
  # its body; a body that is not JSON, the console's page and files, or none, a 304, by its status
  # alone), or for the cleanup its run report, or for the presence events its batch response.
  got=$(python3 - "$out" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
if "statusCode" not in answer:
    if "batchItemFailures" in answer:
        print("-", "-" if not answer["batchItemFailures"] else "failed-records")
    else:
        print("-", "-" if "staleEnded" in answer else "not-a-report")
    sys.exit()
try:
    body = json.loads(answer.get("body") or "null")
except ValueError:
    body = None
if body is None:
    print(answer["statusCode"], "-")
    sys.exit()
code = body.get("code") or body.get("type") if isinstance(body, dict) else None
if isinstance(body, dict) and "code" in body:
    for field in ("msg", "datetime", "data", "ext"):
        if field not in body:
            code = "envelope-without-" + field
print(answer["statusCode"], code or "none")
PY
)
  if [ "$got" = "$status $code" ]; then
    printf 'ok    %-36s %-15s %s (%s ms)\n' "$event" "$function" "$got" "$ms"
  else
    printf 'FAIL  %-36s %-15s expected %s %s, got %s\n' "$event" "$function" "$status" "$code" "$got"
    cat "$out"
    failures=$((failures + 1))
  fi
  ids=$(check_ids "events/$event" "$out" "$offset")
  if [ "$ids" != ok ]; then
    printf 'FAIL  %-36s %-15s not one request id: %s\n' "$event" "$function" "$ids"
    failures=$((failures + 1))
  fi
done <<<"$steps"

echo "== invoke times (cargo lambda invoke, end to end): first (the process starts) and warm"
for function in "${functions[@]}"; do
  event=$(python3 -c 'import json,sys; print(next(s["event"] for s in json.load(open("tests/emulator_scenario.json"))["invocations"] if s["function"] == sys.argv[1]))' "$function")
  warm=()
  for _ in 1 2 3 4 5; do warm+=("$(invoke "$function" "events/$event" "$out")"); done
  sorted=$(printf '%s\n' "${warm[@]}" | sort -n | tr '\n' ' ')
  printf '%-15s first %5s ms   warm (5, sorted) %s ms\n' "$function" "${first_ms[$function]}" "$sorted"
done

if [ "$failures" -gt 0 ]; then
  echo "$failures invocation(s) answered other than tests/emulator_scenario.json says; cargo lambda watch log:" >&2
  tail -50 target/lambda-watch.log >&2
  exit 1
fi
echo "every fixture answered as expected under the emulator"
echo "== IAM: every action each function performed is granted by template.yaml (tests/iam_check.py)"
.venv/bin/python tests/iam_check.py --template template.yaml --trace "$STRICT_DYNAMODB_TRACE" --require-functions all
# The functions logged at trace (the most LOG_LEVEL allows; lambda_runtime, which would log every
# raw event there, is capped at debug: telemetry::level_filter), every fixture's token among the
# requests: none may be in the log.
infra/scripts/check-secrets.sh target/lambda-watch.log
