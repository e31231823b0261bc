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

# speed, API calls and memory: 10 to 1,000 peerings against moto and the simulator, the planner alone on 10,000, apply within EC2's rate buckets (release build; writes docs/benchmarks.md and docs/scaling.png)
bench:
    #!/usr/bin/env bash
    set -euo pipefail
    export PEERCTL_BENCH_STARTED=$(date +%s)
    cargo build --release --workspace --bins
    "${CARGO_TARGET_DIR:-target}/release/peerctl-bench"

# licences, sources and banned crates of every dependency (deny.toml); advisories too when PEERCTL_ADVISORY_DB is a cargo-deny db-path (as `cargo deny fetch` fills it)
deny:
    @cargo deny --version >/dev/null 2>&1 || cargo install cargo-deny --locked
    cargo fetch --locked --quiet
    cargo deny --offline check licenses bans sources
    @if [ -n "${PEERCTL_ADVISORY_DB:-}" ]; then mkdir -p target && sed "s|^db-urls = \[\]|db-path = \"$PEERCTL_ADVISORY_DB\"|" deny.toml > target/deny-advisories.toml && cargo deny --offline --config target/deny-advisories.toml check advisories; else echo "advisories: skipped (RustSec's database is fetched from GitHub, which is not reachable here; set PEERCTL_ADVISORY_DB)"; fi

# format and lint
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# fuzz the spec loader, planner and renderers for SECONDS (needs nightly; not part of CI; see docs/fuzzing.md)
fuzz seconds="600":
    @rustup toolchain list | grep -q '^nightly' || { echo "just fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
    @cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
    mkdir -p fuzz/corpus/spec_loader
    cp specs/*.yaml fuzz/seeds/*.yaml fuzz/corpus/spec_loader/
    cargo +nightly fuzz run spec_loader -- -max_total_time={{seconds}} -dict=fuzz/yaml.dict -print_final_stats=1
