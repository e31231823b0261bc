# peerctl's tasks. Run them through ./just, which installs `just` itself.

set shell := ["bash", "-euo", "pipefail", "-c"]

export PEERCTL_MOTO_SERVER := justfile_directory() / ".venv/bin/moto_server"
export PEERCTL_PYTHON := justfile_directory() / ".venv/bin/python3"

# list the recipes
default:
    @./just --list

# (re)install the Python tools into .venv
setup:
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    touch .venv/.installed

# build every binary: peerctl, gcp-compute-sim, the demo's world builder
build:
    cargo build --workspace --bins

# all tests: unit, planner, snapshots, the simulator's fidelity check, end-to-end against moto
test: build
    cargo test --workspace

# start moto, build a BYOC-like world, plan, apply, plan again (no changes), stop moto
demo: build
    scripts/demo.sh

# speed, API calls and memory of plan/apply/drift on 50 AWS and 24 GCP peerings (release build; figures in docs/benchmarks.md)
bench:
    cargo build --release --workspace --bins
    target/release/peerctl-bench

# format and lint
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
