//! `gcp-compute-sim`: serves the Compute v1 simulator until killed and
//! prints its base URL as the first line on stdout.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gcp_compute_sim::{Config, FaultKind};

/// A local simulator of the Compute Engine v1 REST API (networks, peerings,
/// subnetworks, firewalls, routes, operations).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "GCP_COMPUTE_SIM_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Allow listening on an address other than loopback.
    #[arg(long)]
    allow_non_loopback: bool,
    /// How long each operation stays RUNNING before it takes effect.
    #[arg(long, env = "GCP_COMPUTE_SIM_OPERATION_LATENCY_MS", default_value_t = 200)]
    operation_latency_ms: u64,
    /// Peerings allowed per network.
    #[arg(long, env = "GCP_COMPUTE_SIM_PEERING_LIMIT", default_value_t = 25)]
    peering_limit: u32,
    /// Probability (0.0-1.0) of answering a mutating call with an injected fault.
    #[arg(long, env = "GCP_COMPUTE_SIM_FAIL_RATE", default_value_t = 0.0)]
    fail_rate: f64,
    /// Faults to inject (comma-separated): rate_limit_429, backend_error_503, concurrent_operations_403.
    #[arg(
        long,
        env = "GCP_COMPUTE_SIM_FAIL_KINDS",
        value_delimiter = ',',
        default_value = "rate_limit_429,backend_error_503,concurrent_operations_403"
    )]
    fail_kinds: Vec<FaultKind>,
    /// Inject faults into reads too.
    #[arg(long, env = "GCP_COMPUTE_SIM_FAIL_READS")]
    fail_reads: bool,
    /// Seed of the fault and id generators.
    #[arg(long, env = "GCP_COMPUTE_SIM_SEED", default_value_t = 1)]
    seed: u64,
}

async fn run(args: Args) -> gcp_compute_sim::Result<()> {
    if !args.listen.ip().is_loopback() && !args.allow_non_loopback {
        return Err(gcp_compute_sim::Error::NonLoopback(args.listen));
    }
    let config = Config {
        operation_latency: Duration::from_millis(args.operation_latency_ms),
        peering_limit: args.peering_limit,
        fail_rate: args.fail_rate,
        fail_kinds: args.fail_kinds,
        fail_reads: args.fail_reads,
        seed: args.seed,
    };
    let running = gcp_compute_sim::start(config, args.listen).await?;
    let mut stdout = std::io::stdout();
    // Scripts read this first line to find the port; flush it at once.
    let _ = writeln!(stdout, "{}", running.base_url());
    let _ = stdout.flush();
    if let Err(e) = running.wait().await {
        eprintln!("error: the server stopped\ncaused by: {e}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit 1 like every other error (the project's exit-code rule).
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
