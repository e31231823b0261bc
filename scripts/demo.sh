#!/usr/bin/env bash
# The demo: peers the EMQX BYOC guide's two VPCs with peerctl, against moto's
# EC2 server on loopback, and stops moto at the end whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug"
moto_server="${PEERCTL_MOTO_SERVER:-.venv/bin/moto_server}"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp)"

"$moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

step "moto's EC2 server is up on $AWS_ENDPOINT_URL; building the world"
"$bin/peerctl-demo-world" "$AWS_ENDPOINT_URL"

step "peerctl validate specs/demo.yaml"
"$bin/peerctl" validate specs/demo.yaml

step "peerctl plan specs/demo.yaml"
"$bin/peerctl" plan -v specs/demo.yaml

step "peerctl apply --auto-approve specs/demo.yaml"
"$bin/peerctl" apply -v --auto-approve specs/demo.yaml

step "peerctl plan --detailed-exitcode specs/demo.yaml (expect: No changes, exit 0)"
"$bin/peerctl" plan -v --detailed-exitcode specs/demo.yaml

step "demo done: the BYOC and services VPCs are peered, routed, opened and verified"
