#!/usr/bin/env bash
# The demo: peers the EMQX BYOC guide's two VPCs (AWS) and two networks (GCP)
# with peerctl, against moto's EC2 server and the Compute simulator on
# loopback, and stops both at the end whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug"
moto_server="${PEERCTL_MOTO_SERVER:-.venv/bin/moto_server}"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp)"

sim_out="$(mktemp)"
plan_dir="$(mktemp -d)"
"$moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
"$bin/gcp-compute-sim" --listen 127.0.0.1:0 >"$sim_out" 2>&1 &
sim_pid=$!
trap 'kill "$moto_pid" "$sim_pid" 2>/dev/null; wait "$moto_pid" "$sim_pid" 2>/dev/null || true; rm -f "$log" "$sim_out"; rm -rf "$plan_dir"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

for _ in $(seq 100); do
  [ -s "$sim_out" ] && break
  sleep 0.1
done
sim_url="$(head -n1 "$sim_out")"
case "$sim_url" in http://127.0.0.1:*) ;; *) echo "gcp-compute-sim did not start: $(cat "$sim_out")" >&2; exit 1 ;; esac

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="$sim_url" GOOGLE_OAUTH_ACCESS_TOKEN=demo-token

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

step "moto's EC2 server is up on $AWS_ENDPOINT_URL, the Compute simulator on $sim_url; building the world"
"$bin/peerctl-demo-world" "$AWS_ENDPOINT_URL" "$sim_url"

step "peerctl validate specs/demo.yaml"
"$bin/peerctl" validate specs/demo.yaml

plan_file="$plan_dir/demo.plan.json"
step "peerctl plan specs/demo.yaml --out $plan_file"
"$bin/peerctl" plan -v specs/demo.yaml --out "$plan_file"

step "peerctl apply $plan_file (exactly the reviewed plan; refused if anything changed since)"
"$bin/peerctl" apply -v "$plan_file"

step "peerctl plan --detailed-exitcode specs/demo.yaml (expect: No changes, exit 0)"
"$bin/peerctl" plan -v --detailed-exitcode specs/demo.yaml

step "demo done: the BYOC and services VPCs are peered, routed and opened; the GCP networks are peered both ways and opened; all verified"
