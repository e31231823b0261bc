//! How peerctl talks to people: `error:`/`hint:` on stderr, colour only on a
//! terminal and never with NO_COLOR, logs behind -v.

use peerctl_core::render::Style;
use std::io::IsTerminal;

pub struct Output {
    pub stdout_style: Style,
    stderr_style: Style,
    pub verbose: u8,
}

impl Output {
    pub fn new(no_color: bool, verbose: u8) -> Self {
        let allowed = !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Self {
            stdout_style: Style { color: allowed && std::io::stdout().is_terminal() },
            stderr_style: Style { color: allowed && std::io::stderr().is_terminal() },
            verbose,
        }
    }

    pub fn error(&self, message: &str, hint: Option<&str>) {
        let label = if self.stderr_style.color { "\x1b[1;31merror\x1b[0m" } else { "error" };
        eprintln!("{label}: {message}");
        if let Some(hint) = hint {
            let label = if self.stderr_style.color { "\x1b[1;36mhint\x1b[0m" } else { "hint" };
            eprintln!("  {label}: {hint}");
        }
    }

    /// An error and its chain of causes, each on its own `caused by:` line.
    pub fn error_chain(&self, error: &dyn std::error::Error, hint: Option<&str>) {
        self.error(&error.to_string(), None);
        let mut source = error.source();
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        if let Some(hint) = hint {
            eprintln!("  hint: {hint}");
        }
    }

    pub fn progress(&self, line: &str) {
        eprintln!("{line}");
    }
}

/// Logs to stderr: warnings by default, more with -v; RUST_LOG overrides.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        // gcp_auth and aws-config warn on every failed credential source they
        // try (aws-config's instance metadata, in its debug format, on any
        // machine outside EC2); peerctl's error says what was missing and what to do.
        0 | 1 => "warn,gcp_auth=error,aws_config=error",
        2 => "info,aws_config=warn",
        _ => "debug,aws_smithy_runtime=info,aws_config=info,hyper=info,h2=info,rustls=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
