# Sourced, not run, by the test scripts. `free_port` and `wait_for_port` start any local server;
# `start_moto` installs moto's server into .venv on first use (PyPI), starts it
# on a free loopback port (one request at a time: infra/scripts/moto_server.py says why), exports
# DYNAMODB_ENDPOINT and MOTO_PYTHON, and stops it when the calling script exits. Also sets the
# AWS variables every process needs so that the SDK never looks for real credentials or probes
# the instance-metadata address.

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
  if [ ! -x "$venv/bin/moto_server" ]; then
    echo "installing moto's DynamoDB server into $venv (once)..."
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
  fi
  export MOTO_PYTHON="$PWD/$venv/bin/python"

  local port
  port=$(free_port)
  mkdir -p target
  "$MOTO_PYTHON" infra/scripts/moto_server.py -H 127.0.0.1 -p "$port" >target/moto.log 2>&1 &
  MOTO_PID=$!
  trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
  wait_for_port "$port" "$MOTO_PID" target/moto.log
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  echo "DynamoDB-protocol server (moto) at $DYNAMODB_ENDPOINT"
}
