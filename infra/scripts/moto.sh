# Sourced, not run, by the test scripts. `free_port` and `wait_for_port` start any local server;
# `start_moto` installs moto's server into .venv on first use (PyPI), starts it on a free loopback
# port (one request at a time: infra/scripts/moto_server.py says why) with the strict DynamoDB
# proxy in front of it (infra/scripts/strict_dynamodb.py: transaction conflicts, throttling per
# key, DynamoDB's hard limits, and a trace of every action each function performed, at
# $STRICT_DYNAMODB_TRACE, default target/dynamodb-trace.jsonl), exports DYNAMODB_ENDPOINT (the
# proxy), MOTO_ENDPOINT and MOTO_PYTHON, and stops both when the calling script exits
# (`stop_moto`, for a script that sets its own EXIT trap). Also sets the AWS variables every
# process needs so that the SDK never looks for real credentials or probes the instance-metadata
# address.

export AWS_EC2_METADATA_DISABLED=true
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

# A free loopback port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (up to 30 s) until 127.0.0.1:$1 accepts connections; if process $2 exits first, prints
# its log $3 and fails the script.
wait_for_port() {
  local port=$1 pid=$2 log=$3
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server on port $port exited; its log ($log):" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "nothing listens on port $port after 30 s; log ($log):" >&2
  cat "$log" >&2
  exit 1
}

start_moto() {
  local venv=.venv
  if [ ! -x "$venv/bin/moto_server" ] || ! "$venv/bin/python" -c 'import samtranslator' 2>/dev/null; then
    echo "installing moto's DynamoDB server and the SAM translator into $venv (once)..."
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5' aws-sam-translator==1.115.0
  fi
  export MOTO_PYTHON="$PWD/$venv/bin/python"

  local port proxy_port
  port=$(free_port)
  mkdir -p target
  "$MOTO_PYTHON" infra/scripts/moto_server.py -H 127.0.0.1 -p "$port" >target/moto.log 2>&1 &
  MOTO_PID=$!
  trap stop_moto EXIT
  wait_for_port "$port" "$MOTO_PID" target/moto.log
  export MOTO_ENDPOINT="http://127.0.0.1:$port"

  proxy_port=$(free_port)
  export STRICT_DYNAMODB_TRACE="${STRICT_DYNAMODB_TRACE:-$PWD/target/dynamodb-trace.jsonl}"
  "$MOTO_PYTHON" infra/scripts/strict_dynamodb.py --listen "127.0.0.1:$proxy_port" --upstream "$MOTO_ENDPOINT" \
    --txn-hold-ms 20 --trace "$STRICT_DYNAMODB_TRACE" >target/strict-dynamodb.log 2>&1 &
  PROXY_PID=$!
  wait_for_port "$proxy_port" "$PROXY_PID" target/strict-dynamodb.log
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$proxy_port"
  echo "DynamoDB-protocol server: moto at $MOTO_ENDPOINT behind the strict proxy at $DYNAMODB_ENDPOINT"
}

stop_moto() {
  kill "${PROXY_PID:-}" "${MOTO_PID:-}" 2>/dev/null || true
}
