//! The `peerctl` command: parses arguments, runs a command, maps the result
//! to an exit code. Results go to stdout; progress, logs and errors to stderr.

mod commands;
mod output;

use clap::{Args, Parser, Subcommand, ValueEnum};
use peerctl_core::planner::Options;
use std::path::PathBuf;
use std::process::ExitCode;

/// Plans of thousands of peerings are mostly small strings: mimalloc makes
/// and frees them in about half the time glibc's malloc takes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Declarative VPC peering across AWS and GCP.
#[derive(Parser, Debug)]
#[command(name = "peerctl", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More output on stderr: -v API call counts, -vv info logs, -vvv debug logs.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Never colour the output (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    no_color: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a spec offline: syntax, types, names, selectors. No cloud calls.
    Validate {
        /// The spec file (YAML).
        spec: PathBuf,
    },
    /// Read live state and show what would change to make it match the spec.
    Plan {
        /// The spec file (YAML).
        spec: PathBuf,
        #[command(flatten)]
        select: Select,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 2 when there are changes, 0 when there are none, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also save the plan (JSON) for `peerctl apply FILE` to apply exactly.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Plan, confirm, apply, then verify that live state matches the spec; or apply a saved plan.
    Apply {
        /// A spec, or a plan saved by `plan --out` (applied without asking, unless stale).
        #[arg(value_name = "SPEC_OR_PLAN")]
        spec: PathBuf,
        #[command(flatten)]
        select: Select,
        /// Apply without asking (required when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Cloud calls in flight at once.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
        parallelism: u16,
    },
    /// Read-only check for changes made outside peerctl: exit 0 in sync, 2 drift, 1 error.
    Drift {
        /// The spec file (YAML).
        spec: PathBuf,
        /// Only check these peerings (repeatable).
        #[arg(long = "target", value_name = "PEERING")]
        targets: Vec<String>,
        #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
        format: DriftFormat,
        /// Also write Prometheus gauges here (for node_exporter's textfile collector).
        #[arg(long, value_name = "FILE")]
        metrics_file: Option<PathBuf>,
    },
    /// Write a spec for peerings that already exist (to stdout), to adopt them without recreating anything.
    Import {
        #[command(subcommand)]
        cloud: ImportCloud,
        /// The owner of the spec written (its `owner:`).
        #[arg(long, global = true, value_name = "NAME")]
        owner: Option<String>,
    },
    /// Print the least-privilege AWS IAM policies (one per set of credentials) and GCP permissions a spec needs.
    IamPolicy {
        /// The spec file (YAML).
        spec: PathBuf,
    },
    /// Print the JSON Schema of the spec file (for editors and CI linters).
    Schema,
    /// Print shell completions, e.g. `peerctl completions bash > /etc/bash_completion.d/peerctl`.
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand, Debug)]
pub enum ImportCloud {
    /// The VPC peering connections of one region (and account), e.g. `import aws --region us-east-1 --owner byoc-prod`.
    Aws {
        /// The region to read, e.g. us-east-1 (connections reaching other regions are followed).
        #[arg(long)]
        region: String,
        /// Only the connections of this VPC.
        #[arg(long, value_name = "VPC_ID")]
        vpc: Option<String>,
        /// A named AWS profile (default: the standard credential chain).
        #[arg(long)]
        profile: Option<String>,
        /// An IAM role to assume on top of those credentials.
        #[arg(long, value_name = "ARN")]
        role_arn: Option<String>,
    },
    /// The network peerings of one project, e.g. `import gcp --project emq-x-cloud --owner byoc-prod`.
    Gcp {
        /// The project to read (peer projects are read too, where the credentials allow).
        #[arg(long)]
        project: String,
        /// Only the peerings of this network.
        #[arg(long)]
        network: Option<String>,
    },
}

/// Which peerings a plan covers.
#[derive(Args, Debug)]
struct Select {
    /// Also delete peerings that carry the spec's owner but are no longer in it (routes and rules first).
    #[arg(long)]
    prune: bool,
    /// Only these peerings (repeatable): of the spec, or, with --prune, owned ones to delete.
    #[arg(long = "target", value_name = "PEERING")]
    targets: Vec<String>,
}

impl Select {
    fn options(self) -> Options {
        Options { prune: self.prune, targets: self.targets }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For terminals (coloured unless NO_COLOR or not a terminal).
    Text,
    /// For machines; the saved-plan format (docs/plan-format.md).
    Json,
    /// For a pull-request comment.
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DriftFormat {
    Text,
    Json,
}

/// The only exit codes peerctl ever uses, so a pipeline can trust a 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, and nothing to do (or applied and verified).
    Ok = 0,
    /// Any error: usage, spec, cloud, conflict, failed verification.
    Error = 1,
    /// Changes present (`plan --detailed-exitcode`), or drift (`drift`).
    Changes = 2,
}

fn main() -> ExitCode {
    // Die quietly when stdout is closed early (`peerctl plan … | head`), as Unix tools do.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            let code = if error.use_stderr() { Exit::Error } else { Exit::Ok };
            return ExitCode::from(code as u8);
        }
    };
    output::init_logging(cli.verbose);
    let out = output::Output::new(cli.no_color, cli.verbose);
    let code = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli, &out)),
        Err(error) => {
            out.error(&format!("cannot start the async runtime: {error}"), None);
            Exit::Error
        }
    };
    ExitCode::from(code as u8)
}

async fn run(cli: Cli, out: &output::Output) -> Exit {
    match cli.command {
        Command::Validate { spec } => commands::validate(&spec, out),
        Command::Import { cloud, owner } => commands::import(cloud, owner, out).await,
        Command::IamPolicy { spec } => commands::iam_policy(&spec, out),
        Command::Schema => {
            println!("{:#}", peerctl_core::schema::spec_schema());
            Exit::Ok
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "peerctl", &mut std::io::stdout());
            Exit::Ok
        }
        Command::Plan { spec, select, format, detailed_exitcode, out: save } => {
            commands::plan(&spec, &select.options(), format, detailed_exitcode, save.as_deref(), out).await
        }
        Command::Drift { spec, targets, format, metrics_file } => {
            let options = Options { prune: false, targets };
            commands::drift(&spec, &options, format == DriftFormat::Json, metrics_file.as_deref(), out).await
        }
        Command::Apply { spec, select, auto_approve, parallelism } => {
            commands::apply(&spec, &select.options(), auto_approve, usize::from(parallelism), out).await
        }
    }
}
