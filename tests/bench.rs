//! `peerctl-bench` (`./just bench`): how long peerctl's commands take, how
//! many API calls they make and how much memory they use, on worlds of a
//! realistic size, against moto and the GCP simulator on loopback. Figures
//! are printed, never asserted: they go in docs/benchmarks.md.
//!
//! - AWS: 5 hubs (us-east-1) × 10 spokes (us-west-2) = 50 cross-region peerings.
//! - GCP: one hub network with 24 spokes in another project (the per-network
//!   limit is 25).

use peerctl_e2e::{Cloud, Moto, Sim, create_vpc, peerctl_bin};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// One command's cost.
struct Measure {
    seconds: f64,
    max_rss_mib: f64,
    calls: String,
    code: i32,
}

/// Runs peerctl like a user and measures it: wall time, peak RSS (from the
/// kernel's accounting of the child, via wait4), and the `-v` call counts.
fn measure(cloud: &dyn Cloud, dir: &Path, args: &[&str]) -> Measure {
    let stderr_path = dir.join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let mut command = Command::new(peerctl_bin());
    command.args(args).current_dir(dir).env("NO_COLOR", "1").stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
    for (key, value) in cloud.env() {
        command.env(key, value);
    }
    let start = Instant::now();
    // Reaped below by wait4, which also reports the child's peak memory.
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().expect("peerctl");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; the pointers are to live locals.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let mut calls: Vec<String> =
        text.lines().filter(|l| l.contains(" api calls: ")).map(|l| l.split(':').take(2).collect::<Vec<_>>().join(":")).collect();
    calls.extend(text.lines().filter(|l| l.contains("retried after")).map(str::to_string));
    let calls = calls.join("; ");
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    if code == 1 {
        eprintln!("peerctl {args:?} failed:\n{text}");
    }
    Measure { seconds, max_rss_mib: usage.ru_maxrss as f64 / 1024.0, calls, code }
}

fn row(what: &str, m: &Measure) {
    println!("| {what} | {:.2} s | {:.1} MiB | {} | {} |", m.seconds, m.max_rss_mib, m.calls, m.code);
}

fn header(title: &str) {
    println!("\n### {title}\n\n| command | wall time | peak RSS | API calls | exit |\n|---|--:|--:|---|--:|");
}

#[tokio::main]
async fn main() -> Result<(), peerctl_e2e::Error> {
    let dir = std::env::temp_dir().join(format!("peerctl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!("peerctl binary: {}", peerctl_bin().display());

    let moto = Moto::start()?;
    let east = moto.ec2("us-east-1", None).await;
    let west = moto.ec2("us-west-2", None).await;
    let mut spec = String::from("version: 1\nowner: bench\npeerings:\n");
    for hub in 0..5 {
        create_vpc(&east, &format!("hub{hub}"), &format!("10.{hub}.0.0/16")).await?;
        for spoke in 0..10 {
            let n = hub * 10 + spoke;
            create_vpc(&west, &format!("spoke{n}"), &format!("10.{}.0.0/16", 100 + n)).await?;
            spec.push_str(&format!(
                "  - name: hub{hub}-spoke{n}\n    aws:\n      requester: {{vpc: {{name: hub{hub}-vpc}}, region: us-east-1, security_groups: [{{name: hub{hub}}}]}}\n      accepter: {{vpc: {{name: spoke{n}-vpc}}, region: us-west-2, security_groups: [{{name: spoke{n}}}]}}\n      dns_resolution: true\n"
            ));
        }
    }
    std::fs::write(dir.join("aws.yaml"), &spec)?;
    header("AWS: 50 cross-region peerings (moto)");
    row("validate", &measure(&moto, &dir, &["validate", "aws.yaml"]));
    row("plan (nothing exists yet)", &measure(&moto, &dir, &["plan", "-v", "aws.yaml"]));
    row("apply (creates everything, then verifies)", &measure(&moto, &dir, &["apply", "-v", "--auto-approve", "aws.yaml"]));
    row("plan (converged)", &measure(&moto, &dir, &["plan", "-v", "aws.yaml"]));
    row("drift (in sync)", &measure(&moto, &dir, &["drift", "-v", "aws.yaml"]));
    drop(moto);

    let sim = Sim::start(&[])?;
    sim.network("hub-project", "hub", &["10.0.0.0/16"]).await?;
    let mut spec = String::from("version: 1\nowner: bench\ngcp: {project: hub-project}\npeerings:\n");
    for i in 1..=24 {
        sim.network("spoke-project", &format!("spoke-{i}"), &[&format!("10.{i}.0.0/16")]).await?;
        spec += &format!(
            "  - name: spoke-{i}\n    gcp:\n      network: hub\n      peer_network: projects/spoke-project/global/networks/spoke-{i}\n"
        );
    }
    std::fs::write(dir.join("gcp.yaml"), &spec)?;
    header("GCP: one hub network, 24 spokes (simulator, 50 ms per operation)");
    row("plan (nothing exists yet)", &measure(&sim, &dir, &["plan", "-v", "gcp.yaml"]));
    row("apply (creates everything, then verifies)", &measure(&sim, &dir, &["apply", "-v", "--auto-approve", "gcp.yaml"]));
    row("plan (converged)", &measure(&sim, &dir, &["plan", "-v", "gcp.yaml"]));

    drop(sim);

    let sim = Sim::start(&[])?;
    sim.network("hub-project", "hub", &["10.0.0.0/16"]).await?;
    for i in 1..=24 {
        sim.network("spoke-project", &format!("spoke-{i}"), &[&format!("10.{i}.0.0/16")]).await?;
    }
    sim.configure(serde_json::json!({"fail_rate": 0.2, "fail_reads": true})).await?;
    header("GCP: the same 24 spokes with 20% of all calls failing (429, 503, 403 quota)");
    row("apply (creates everything through faults, then verifies)", &measure(&sim, &dir, &["apply", "-v", "--auto-approve", "gcp.yaml"]));
    let stats = sim.stats().await?;
    println!("\nsimulator: {} requests, {} injected faults", stats["requests_total"], stats["faults_total"]);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
