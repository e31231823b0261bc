//! `peerctl-bench` (`./just bench`): how long peerctl's commands take, how
//! many API calls they make and how much memory they use, on worlds of up to
//! 1,000 peerings, against moto and the GCP simulator on loopback. Figures
//! are measured, never asserted: the bench writes them, each next to its
//! target, between the markers of docs/benchmarks.md, and draws
//! docs/scaling.png from them.
//!
//! Sections (issue 6):
//! - The planner alone, in process, on 1,000 and 10,000 synthetic peerings
//!   (bench_planner.rs).
//! - `validate` of a 10,000-peering spec.
//! - AWS, 10 / 100 / 1,000 converged peerings (hubs × 50 spokes over 2
//!   accounts × 3 regions; 2 route tables and 1 group per side), each world
//!   built directly through the EC2 API: plan's reads against a per-resource
//!   reader's, wall time split between moto and peerctl.
//! - GCP, 10 / 100 / 1,000 converged peerings (hubs × 25 spokes over 4 projects).
//! - AWS apply of 200 new peerings through a proxy that enforces EC2's
//!   request buckets (as EC2 does: it throttles), against the rate the
//!   client-side budget allows.
//! - GCP apply of 100 peerings on 10 hubs with 2 s operations, against the
//!   lower bound set by one peering operation at a time per network. It
//!   mostly waits, so it runs on its own thread beside the AWS plans.
//! - With `--all`, the small worlds: AWS, 50 cross-region peerings (validate,
//!   plan, apply, plan, drift); GCP, one hub with 24 spokes (plan, apply,
//!   plan; then apply with 20 % faults).
//!
//! Options: `peerctl-bench --help` (`USAGE` below).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, Tag, TagSpecification};
use futures::stream::{self, StreamExt, TryStreamExt};
mod bench_planner;

use peerctl_e2e::{MAIN_ACCOUNT, Moto, OTHER_ACCOUNT, OTHER_ROLE, Sim, create_vpc, peerctl_bin, python, tag_spec, workspace_root};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Result<T, E = peerctl_e2e::Error> = std::result::Result<T, E>;

const OWNER: &str = "bench";
const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];
/// Objects moto builds at once while making a world.
const BUILD_CONCURRENCY: usize = 12;

// ====================================================================== measuring

/// The two moto servers the AWS worlds are planned against (`Moto::start_direct`).
const DIRECT: &str = "moto, lookups direct";
const PUBLISHED: &str = "moto as published";

/// A converged world of `n` peerings, built for a plan's measurement.
#[derive(Clone, Copy)]
struct World {
    cloud: &'static str,
    /// What serves the cloud's API: `simulator`, `DIRECT` or `PUBLISHED`.
    server: &'static str,
    n: usize,
    /// VPCs or networks.
    objects: usize,
    /// Seconds to build it.
    built: f64,
    /// What a per-resource reader reads per peering.
    reads_per_peering: u64,
}

/// One command's cost.
struct Measure {
    seconds: f64,
    max_rss_mib: f64,
    /// CPU time of peerctl itself (user + system).
    cpu_seconds: f64,
    /// CPU time the server (moto or the simulator) spent meanwhile.
    server_cpu_seconds: Option<f64>,
    /// `-v`'s summary, e.g. `aws api calls: 36 (36 reads, 0 writes)`.
    calls: String,
    reads: u64,
    /// Per operation, from `-v`.
    ops: BTreeMap<String, u64>,
    code: i32,
    stdout: Vec<(f64, String)>,
    stderr: Vec<(f64, String)>,
}

impl Measure {
    fn stdout_text(&self) -> String {
        self.stdout.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n")
    }
}

/// CPU seconds (user + system) a process has used so far, from /proc.
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second)
}

fn read_lines(stream: impl std::io::Read + Send + 'static, start: Instant) -> std::thread::JoinHandle<Vec<(f64, String)>> {
    std::thread::spawn(move || {
        BufReader::new(stream).lines().map_while(|l| l.ok()).map(|line| (start.elapsed().as_secs_f64(), line)).collect()
    })
}

/// `--measured-child FILE PROGRAM ARGS…`: runs PROGRAM with this process's
/// standard streams, writes its peak RSS (KiB) and CPU time (s) to FILE, and
/// exits with its code. Started fresh by `measure`, this process is small,
/// so what the kernel reports for PROGRAM is PROGRAM's own.
fn measured_child(args: &[String]) -> ! {
    let [file, program, rest @ ..] = args else { std::process::exit(2) };
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let child = Command::new(program).args(rest).spawn().unwrap_or_else(|e| {
        eprintln!("{program}: {e}");
        std::process::exit(2)
    });
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; the pointers are to live locals.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let _ = std::fs::write(file, format!("{} {}", usage.ru_maxrss, time(usage.ru_utime) + time(usage.ru_stime)));
    std::process::exit(if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 1 })
}

/// Runs peerctl like a user and measures it: wall time, peak RSS and CPU
/// time (the kernel's accounting of peerctl, via `measured_child`), the server's CPU
/// time meanwhile, the `-v` call counts, and every output line with the
/// time it appeared.
fn measure(env: &[(&'static str, String)], dir: &Path, args: &[&str], server: Option<u32>) -> Measure {
    // Through a fresh copy of this program (`--measured-child`), which runs
    // peerctl and reports its usage: Linux counts a parent's peak memory into
    // a child's, and this bench grows large while it builds worlds.
    // One file per run: the GCP apply measures on its own thread beside the other sections.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let usage_file = dir.join(format!("usage-{}-{run}", std::process::id()));
    let mut command = Command::new(std::env::current_exe().expect("peerctl-bench"));
    command.arg("--measured-child").arg(&usage_file).arg(peerctl_bin());
    command.args(args).current_dir(dir).env("NO_COLOR", "1").env_remove("RUST_LOG").stdin(Stdio::null());
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let server_before = server.and_then(process_cpu_seconds);
    let start = Instant::now();
    // Reaped below by wait4.
    #[allow(clippy::zombie_processes)]
    let mut child = command.spawn().expect("peerctl");
    let out = read_lines(child.stdout.take().expect("stdout"), start);
    let err = read_lines(child.stderr.take().expect("stderr"), start);
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: pid is our child, not yet waited for; the status pointer is to a live local.
    unsafe { libc::wait4(pid, &mut status, 0, std::ptr::null_mut()) };
    let seconds = start.elapsed().as_secs_f64();
    let server_cpu_seconds = match (server_before, server.and_then(process_cpu_seconds)) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    // "max_rss_kib cpu_seconds", written by `measured_child`.
    let child_usage: Vec<f64> =
        std::fs::read_to_string(&usage_file).unwrap_or_default().split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let _ = std::fs::remove_file(&usage_file);
    let (max_rss_kib, cpu_seconds) = (child_usage.first().copied().unwrap_or(f64::NAN), child_usage.get(1).copied().unwrap_or(f64::NAN));
    let (mut reads, mut ops, mut calls) = (0, BTreeMap::new(), Vec::new());
    for (_, line) in &stderr {
        // "aws api calls: 36 (36 reads, 0 writes): DescribeVpcs=6 …"
        if let Some(at) = line.find(" api calls: ") {
            let rest = &line[at + " api calls: ".len()..];
            let numbers: Vec<u64> =
                rest.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).take(3).filter_map(|s| s.parse().ok()).collect();
            reads += numbers.get(1).copied().unwrap_or(0);
            for pair in rest.split_whitespace().filter_map(|w| w.split_once('=')) {
                *ops.entry(pair.0.to_string()).or_default() += pair.1.parse::<u64>().unwrap_or(0);
            }
            calls.push(line.split(':').take(2).collect::<Vec<_>>().join(":"));
        }
        if line.contains("retried after") {
            calls.push(line.clone());
        }
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    if code == 1 {
        let text: Vec<&str> = stderr.iter().map(|(_, l)| l.as_str()).collect();
        let tail = &text[text.len().saturating_sub(40)..];
        eprintln!("peerctl {args:?} failed:\n{}", tail.join("\n"));
    }
    Measure {
        seconds,
        max_rss_mib: max_rss_kib / 1024.0,
        cpu_seconds,
        server_cpu_seconds,
        calls: calls.join("; "),
        reads,
        ops,
        code,
        stdout,
        stderr,
    }
}

// ====================================================================== servers

/// The simulator with operations taking `latency_ms`.
async fn start_sim(latency_ms: u64) -> Result<Sim> {
    let sim = Sim::start(&[])?;
    sim.configure(json!({"operation_latency_ms": latency_ms})).await?;
    Ok(sim)
}

// ====================================================================== report

/// One figure next to its target.
struct Target {
    what: String,
    measured: String,
    goal: String,
    /// `None`: reported only, no pass/fail.
    met: Option<bool>,
}

#[derive(Default)]
struct Report {
    targets: Vec<Target>,
    sections: Vec<String>,
    /// Plot series: name → (peerings, value).
    times: BTreeMap<String, Vec<(f64, f64)>>,
    calls: BTreeMap<String, Vec<(f64, f64)>>,
    /// The planner's in-process time for 1,000 converged peerings, for the split of a plan's time.
    planner_1000: Option<f64>,
}

impl Report {
    fn target(&mut self, what: impl Into<String>, measured: impl Into<String>, goal: impl Into<String>, met: Option<bool>) {
        let target = Target { what: what.into(), measured: measured.into(), goal: goal.into(), met };
        let mark = match target.met {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "–",
        };
        eprintln!("  {mark} {}: {} (target: {})", target.what, target.measured, target.goal);
        self.targets.push(target);
    }

    fn section(&mut self, text: String) {
        println!("{text}");
        self.sections.push(text);
    }
}

fn table(title: &str, rows: &[(&str, &Measure)]) -> String {
    let mut text = format!("\n### {title}\n\n| command | wall time | peak RSS | API calls | exit |\n|---|--:|--:|---|--:|\n");
    for (what, m) in rows {
        let _ = writeln!(text, "| {what} | {:.2} s | {:.1} MiB | {} | {} |", m.seconds, m.max_rss_mib, m.calls, m.code);
    }
    text
}

fn progress(started: Instant, what: &str) {
    eprintln!("[{:>6.1} s] {what}", started.elapsed().as_secs_f64());
}

// ====================================================================== AWS worlds

/// One of the 6 (account, region) scopes: main account first, then the
/// account reached through `OTHER_ROLE`.
#[derive(Clone, Copy)]
struct Scope(usize);

impl Scope {
    fn region(self) -> &'static str {
        REGIONS[self.0 % 3]
    }

    fn role(self) -> Option<&'static str> {
        (self.0 >= 3).then_some(OTHER_ROLE)
    }

    fn account(self) -> &'static str {
        if self.0 >= 3 { OTHER_ACCOUNT } else { MAIN_ACCOUNT }
    }
}

/// A VPC (or GCP network) at one end of peerings, with its own /24.
#[derive(Clone)]
struct End {
    name: String,
    scope: usize,
    cidr: String,
}

struct PeeringDef {
    name: String,
    /// The spoke: the BYOC VPC, which requests.
    requester: End,
    /// The hub: the services VPC, which accepts.
    accepter: End,
}

/// `n` peerings of hubs with `per_hub` spokes each; hub h lives in scope
/// `h % scopes`, spoke s of hub h in `(h + s) % scopes`. Every VPC has its
/// own range, so no two peered VPCs (nor two spokes of one hub) overlap.
fn hub_and_spokes(n: usize, per_hub: usize, scopes: usize) -> Vec<PeeringDef> {
    (0..n)
        .map(|i| {
            let (h, s) = (i / per_hub, i % per_hub);
            PeeringDef {
                name: format!("h{h}-s{s}"),
                requester: End {
                    name: format!("spoke-{h}-{s}"),
                    scope: (h + s) % scopes,
                    cidr: format!("10.{}.{}.0/24", i / 256, i % 256),
                },
                accepter: End { name: format!("hub-{h}"), scope: h % scopes, cidr: format!("10.{}.{}.0/24", 240 + h / 256, h % 256) },
            }
        })
        .collect()
}

fn ends(peerings: &[PeeringDef]) -> Vec<End> {
    let mut seen = BTreeSet::new();
    peerings.iter().flat_map(|p| [&p.requester, &p.accepter]).filter(|e| seen.insert(e.name.clone())).cloned().collect()
}

fn aws_side(end: &End) -> String {
    let scope = Scope(end.scope);
    let role = scope.role().map(|r| format!(", role_arn: \"{r}\"")).unwrap_or_default();
    let name = &end.name;
    format!(
        "{{vpc: {{name: {name}-vpc}}, region: {}{role}, route_tables: [{{name: {name}-rt-a}}, {{name: {name}-rt-b}}], security_groups: [{{name: {name}}}]}}",
        scope.region()
    )
}

fn aws_spec(peerings: &[PeeringDef]) -> String {
    let mut text = format!("version: 1\nowner: {OWNER}\npeerings:\n");
    for p in peerings {
        let _ = write!(
            text,
            "  - name: {}\n    aws:\n      requester: {}\n      accepter: {}\n",
            p.name,
            aws_side(&p.requester),
            aws_side(&p.accepter)
        );
    }
    text
}

/// A VPC as made: its id, its two named route tables and its group.
struct MadeVpc {
    id: String,
    tables: [String; 2],
    group: String,
}

/// Builds worlds in moto through the EC2 API, many objects at once.
struct AwsBuilder {
    clients: Vec<Client>,
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

impl AwsBuilder {
    async fn new(moto: &Moto) -> AwsBuilder {
        let mut clients = Vec::new();
        for i in 0..6 {
            let scope = Scope(i);
            clients.push(moto.ec2(scope.region(), scope.role()).await);
        }
        AwsBuilder { clients }
    }

    /// Each end's VPC, with route tables `{name}-rt-a` and `-rt-b` and group `{name}`.
    async fn vpcs(&self, ends: &[End]) -> Result<HashMap<String, MadeVpc>> {
        stream::iter(ends.iter().map(|end| async move {
            let ec2 = &self.clients[end.scope];
            let vpc = create_vpc(ec2, &end.name, &end.cidr).await?;
            let table = ec2
                .create_route_table()
                .vpc_id(&vpc.id)
                .tag_specifications(tag_spec(ResourceType::RouteTable, &format!("{}-rt-b", end.name)))
                .send()
                .await?;
            let second = table.route_table().and_then(|t| t.route_table_id()).ok_or("no route table id")?.to_string();
            // create_vpc names its table `{name}-private-route-table`: rename it `-rt-a`.
            ec2.create_tags().resources(&vpc.route_table).tags(tag("Name", &format!("{}-rt-a", end.name))).send().await?;
            Ok::<_, peerctl_e2e::Error>((
                end.name.clone(),
                MadeVpc { id: vpc.id, tables: [vpc.route_table, second], group: vpc.security_group },
            ))
        }))
        .buffer_unordered(BUILD_CONCURRENCY)
        .try_collect()
        .await
    }

    /// Everything peerctl would make for each peering, made directly: the
    /// connection (tagged as peerctl tags it), its acceptance, routes in both
    /// tables of each side and one ingress rule per side.
    async fn peer(&self, peerings: &[PeeringDef], vpcs: &HashMap<String, MadeVpc>) -> Result<()> {
        stream::iter(peerings.iter().map(|p| async move {
            let (req, acc) = (Scope(p.requester.scope), Scope(p.accepter.scope));
            let (req_vpc, acc_vpc) = (&vpcs[&p.requester.name], &vpcs[&p.accepter.name]);
            let tags = TagSpecification::builder()
                .resource_type(ResourceType::VpcPeeringConnection)
                .tags(tag("peerctl:owner", OWNER))
                .tags(tag("peerctl:peering", &p.name))
                .tags(tag("Name", &p.name))
                .build();
            let mut create =
                self.clients[req.0].create_vpc_peering_connection().vpc_id(&req_vpc.id).peer_vpc_id(&acc_vpc.id).tag_specifications(tags);
            if req.account() != acc.account() {
                create = create.peer_owner_id(acc.account());
            }
            if req.region() != acc.region() {
                create = create.peer_region(acc.region());
            }
            let created = create.send().await?;
            let pcx = created.vpc_peering_connection().and_then(|c| c.vpc_peering_connection_id()).ok_or("no pcx id")?.to_string();
            self.clients[acc.0].accept_vpc_peering_connection().vpc_peering_connection_id(&pcx).send().await?;
            for (this, vpc, peer) in [(req, req_vpc, &p.accepter), (acc, acc_vpc, &p.requester)] {
                let ec2 = &self.clients[this.0];
                for table in &vpc.tables {
                    ec2.create_route()
                        .route_table_id(table)
                        .destination_cidr_block(&peer.cidr)
                        .vpc_peering_connection_id(&pcx)
                        .send()
                        .await?;
                }
                let range = IpRange::builder().cidr_ip(&peer.cidr).description(format!("peerctl {OWNER}/{}", p.name)).build();
                let permission = IpPermission::builder().ip_protocol("tcp").from_port(0).to_port(65535).ip_ranges(range).build();
                let tags = TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroupRule)
                    .tags(tag("peerctl:owner", OWNER))
                    .tags(tag("peerctl:peering", &p.name))
                    .build();
                ec2.authorize_security_group_ingress()
                    .group_id(&vpc.group)
                    .ip_permissions(permission)
                    .tag_specifications(tags)
                    .send()
                    .await?;
            }
            Ok::<_, peerctl_e2e::Error>(())
        }))
        .buffer_unordered(BUILD_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(())
    }
}

// ====================================================================== GCP worlds

const GCP_PROJECTS: usize = 4;

fn gcp_project(end: &End) -> String {
    format!("bench-project-{}", end.scope)
}

fn gcp_path(end: &End) -> String {
    format!("projects/{}/global/networks/{}", gcp_project(end), end.name)
}

fn gcp_spec(peerings: &[PeeringDef]) -> String {
    let mut text = format!("version: 1\nowner: {OWNER}\npeerings:\n");
    for p in peerings {
        let _ = write!(
            text,
            "  - name: {}\n    gcp:\n      network: {}\n      peer_network: {}\n",
            p.name,
            gcp_path(&p.requester),
            gcp_path(&p.accepter)
        );
    }
    text
}

async fn gcp_networks(sim: &Sim, ends: &[End]) -> Result<()> {
    stream::iter(ends.iter().map(|end| async move { sim.network(&gcp_project(end), &end.name, &[end.cidr.as_str()]).await }))
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// What peerctl would make for each peering, made directly: an entry on
/// each network (the spec's default flags on `network`, mirrored on the
/// peer) and a firewall rule on each from the other's range.
async fn gcp_peer(sim: &Sim, peerings: &[PeeringDef]) -> Result<()> {
    let post = reqwest::Method::POST;
    stream::iter(peerings.iter().map(|p| {
        let post = post.clone();
        async move {
            let entry = format!("{OWNER}--{}", p.name);
            let sides = [(&p.requester, &p.accepter, true, 'a'), (&p.accepter, &p.requester, false, 'b')];
            for (this, peer, exports_public, _) in sides {
                let body = json!({"networkPeering": {
                    "name": entry, "network": gcp_path(peer), "exchangeSubnetRoutes": true,
                    "exportCustomRoutes": false, "importCustomRoutes": false,
                    "exportSubnetRoutesWithPublicIp": exports_public, "importSubnetRoutesWithPublicIp": !exports_public,
                }});
                sim.call(post.clone(), &format!("{}/addPeering", gcp_path(this)), Some(body)).await?;
            }
            for (this, peer, _, side) in sides {
                let body = json!({
                    "name": format!("peerctl-{entry}-{side}"), "network": gcp_path(this),
                    "description": format!("peerctl owner={OWNER} peering={}", p.name),
                    "direction": "INGRESS", "priority": 1000,
                    "allowed": [{"IPProtocol": "tcp"}], "sourceRanges": [peer.cidr],
                });
                sim.call(post.clone(), &format!("projects/{}/global/firewalls", gcp_project(this)), Some(body)).await?;
            }
            Ok::<_, peerctl_e2e::Error>(())
        }
    }))
    .buffer_unordered(16)
    .try_collect::<Vec<()>>()
    .await?;
    Ok(())
}

// ====================================================================== EC2's buckets, enforced

/// A loopback proxy in front of moto that does what EC2 does and moto does
/// not: throttle. Each (access key, region) has EC2's published token
/// buckets, one for mutating actions (burst 50, 5 per second) and one for
/// the rest (burst 100, 20 per second); a call finding its bucket empty is
/// answered `503 RequestLimitExceeded`. It records when each mutating call
/// arrived.
struct ThrottlingProxy {
    endpoint: String,
    log: Arc<Mutex<ProxyLog>>,
}

#[derive(Default)]
struct ProxyLog {
    buckets: HashMap<(String, bool), (f64, Instant)>,
    /// bucket ("key/region") → arrival of each mutating call, seconds since the proxy started.
    writes: BTreeMap<String, Vec<f64>>,
    throttled: u64,
    /// (bucket, mutating) → arrival of each throttled call.
    throttles: BTreeMap<(String, bool), Vec<f64>>,
}

struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    log: Arc<Mutex<ProxyLog>>,
    started: Instant,
}

impl ThrottlingProxy {
    /// Runs on its own thread and runtime, so that nothing the bench does meanwhile delays it.
    fn start(upstream: &str) -> Result<ThrottlingProxy> {
        let log = Arc::new(Mutex::new(ProxyLog::default()));
        let state = Arc::new(ProxyState {
            upstream: upstream.to_string(),
            client: reqwest::Client::new(),
            log: log.clone(),
            started: Instant::now(),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else { return };
                let _ = tx.send(listener.local_addr().map(|a| format!("http://{a}")));
                let app = axum::Router::new().fallback(throttle).with_state(state);
                let _ = axum::serve(listener, app).await;
            });
        });
        let endpoint = rx.recv_timeout(Duration::from_secs(10)).map_err(|_| "the throttling proxy did not start")??;
        Ok(ThrottlingProxy { endpoint, log })
    }
}

async fn throttle(
    axum::extract::State(state): axum::extract::State<Arc<ProxyState>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let form = String::from_utf8_lossy(&body);
    let action = form.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == "Action").map(|(_, v)| v).unwrap_or_default();
    // Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, …
    let credential = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .map(|c| c.split(',').next().unwrap_or_default().split('/').map(str::to_string).collect::<Vec<_>>())
        .unwrap_or_default();
    if credential.get(3).map(String::as_str) == Some("ec2") {
        let mutating = !["Describe", "Get", "List", "Search"].iter().any(|p| action.starts_with(p));
        let bucket = format!("{}/{}", credential[0], credential[2]);
        let (burst, rate) = if mutating { (50.0, 5.0) } else { (100.0, 20.0) };
        let now = Instant::now();
        let mut log = state.log.lock().unwrap_or_else(|e| e.into_inner());
        let entry = log.buckets.entry((bucket.clone(), mutating)).or_insert((burst, now));
        entry.0 = (entry.0 + now.duration_since(entry.1).as_secs_f64() * rate).min(burst);
        entry.1 = now;
        if entry.0 < 1.0 {
            log.throttled += 1;
            let at = now.duration_since(state.started).as_secs_f64();
            log.throttles.entry((bucket, mutating)).or_default().push(at);
            let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>bench-throttle</RequestID></Response>";
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, [("content-type", "text/xml")], xml).into_response();
        }
        entry.0 -= 1.0;
        if mutating {
            let at = now.duration_since(state.started).as_secs_f64();
            log.writes.entry(bucket).or_default().push(at);
        }
    }
    let url = format!("{}{}", state.upstream, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut request = state.client.request(method, url).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
            let kind = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("text/xml").to_string();
            let bytes = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", kind)], bytes).into_response()
        }
        Err(error) => (axum::http::StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

// ====================================================================== sections

struct Bench {
    dir: PathBuf,
    started: Instant,
    quick: bool,
    /// `--all`: also the sections and runs no target of issue 6 needs (the
    /// GCP apply with 40 slots, the small worlds), which a clean `./just
    /// bench` leaves out to stay within its 20 minutes.
    all: bool,
    /// `--aws-parallelism N`: a second AWS apply, with this parallelism.
    aws_parallelism: Option<String>,
    report: Report,
}

impl Bench {
    fn write(&self, file: &str, text: &str) -> Result<()> {
        std::fs::write(self.dir.join(file), text)?;
        Ok(())
    }

    /// The original small worlds: 50 AWS peerings, 24 GCP spokes, and apply through faults.
    async fn small_worlds(&mut self) -> Result<()> {
        progress(self.started, "AWS: 50 cross-region peerings");
        let moto = Moto::start()?;
        let east = moto.ec2("us-east-1", None).await;
        let west = moto.ec2("us-west-2", None).await;
        let mut spec = format!("version: 1\nowner: {OWNER}\npeerings:\n");
        for hub in 0..5 {
            create_vpc(&east, &format!("hub{hub}"), &format!("10.{hub}.0.0/16")).await?;
            for spoke in 0..10 {
                let n = hub * 10 + spoke;
                create_vpc(&west, &format!("spoke{n}"), &format!("10.{}.0.0/16", 100 + n)).await?;
                let _ = write!(
                    spec,
                    "  - name: hub{hub}-spoke{n}\n    aws:\n      requester: {{vpc: {{name: hub{hub}-vpc}}, region: us-east-1, security_groups: [{{name: hub{hub}}}]}}\n      accepter: {{vpc: {{name: spoke{n}-vpc}}, region: us-west-2, security_groups: [{{name: spoke{n}}}]}}\n      dns_resolution: true\n"
                );
            }
        }
        self.write("aws50.yaml", &spec)?;
        let (env, dir, pid) = (moto.env(), self.dir.clone(), Some(moto.pid()));
        let validate = measure(&[], &dir, &["validate", "aws50.yaml"], None);
        let fresh = measure(&env, &dir, &["plan", "-v", "aws50.yaml"], pid);
        let apply = measure(&env, &dir, &["apply", "-v", "--auto-approve", "aws50.yaml"], pid);
        let converged = measure(&env, &dir, &["plan", "-v", "aws50.yaml"], pid);
        let drift = measure(&env, &dir, &["drift", "-v", "aws50.yaml"], pid);
        drop(moto);
        self.report.section(table(
            "AWS: 50 cross-region peerings (moto)",
            &[
                ("validate", &validate),
                ("plan (nothing exists yet)", &fresh),
                ("apply (creates everything, then verifies)", &apply),
                ("plan (converged)", &converged),
                ("drift (in sync)", &drift),
            ],
        ));

        progress(self.started, "GCP: one hub, 24 spokes");
        let sim = start_sim(50).await?;
        sim.network("hub-project", "hub", &["10.0.0.0/16"]).await?;
        let mut spec = format!("version: 1\nowner: {OWNER}\ngcp: {{project: hub-project}}\npeerings:\n");
        for i in 1..=24 {
            sim.network("spoke-project", &format!("spoke-{i}"), &[&format!("10.{i}.0.0/16")]).await?;
            let _ = write!(
                spec,
                "  - name: spoke-{i}\n    gcp:\n      network: hub\n      peer_network: projects/spoke-project/global/networks/spoke-{i}\n"
            );
        }
        self.write("gcp24.yaml", &spec)?;
        let (env, pid) = (sim.env(), sim.pid());
        let fresh = measure(&env, &dir, &["plan", "-v", "gcp24.yaml"], pid);
        let apply = measure(&env, &dir, &["apply", "-v", "--auto-approve", "gcp24.yaml"], pid);
        let converged = measure(&env, &dir, &["plan", "-v", "gcp24.yaml"], pid);
        drop(sim);
        self.report.section(table(
            "GCP: one hub network, 24 spokes (simulator, 50 ms per operation)",
            &[
                ("plan (nothing exists yet)", &fresh),
                ("apply (creates everything, then verifies)", &apply),
                ("plan (converged)", &converged),
            ],
        ));

        progress(self.started, "GCP: 24 spokes through 20 % faults");
        let sim = start_sim(50).await?;
        sim.network("hub-project", "hub", &["10.0.0.0/16"]).await?;
        for i in 1..=24 {
            sim.network("spoke-project", &format!("spoke-{i}"), &[&format!("10.{i}.0.0/16")]).await?;
        }
        sim.configure(json!({"fail_rate": 0.2, "fail_reads": true})).await?;
        let apply = measure(&sim.env(), &dir, &["apply", "-v", "--auto-approve", "gcp24.yaml"], sim.pid());
        let stats = sim.stats().await?;
        let mut text = table(
            "GCP: the same 24 spokes with 20% of all calls failing (429, 503, 403 quota)",
            &[("apply (creates everything through faults, then verifies)", &apply)],
        );
        let _ = writeln!(text, "\nsimulator: {} requests, {} injected faults", stats["requests_total"], stats["faults_total"]);
        self.report.section(text);
        Ok(())
    }

    /// `peerctl validate` of a 10,000-peering spec.
    fn validate_large(&mut self) -> Result<()> {
        progress(self.started, "validate: 10,000 peerings");
        let spec = aws_spec(&hub_and_spokes(10_000, 50, 6));
        self.write("aws10000.yaml", &spec)?;
        let runs: Vec<Measure> = (0..5).map(|_| measure(&[], &self.dir, &["validate", "aws10000.yaml"], None)).collect();
        let best = runs.iter().min_by(|a, b| a.seconds.total_cmp(&b.seconds)).expect("runs");
        let ok = best.code == 0;
        let failure = match best.stderr.first() {
            Some((_, line)) if !ok => format!("; exit {}: `{}`", best.code, line.trim()),
            _ => String::new(),
        };
        self.report.target(
            "`peerctl validate`, 10,000 peerings",
            format!("{:.2} s ({} KiB spec, peak RSS {:.0} MiB{failure})", best.seconds, spec.len() / 1024, best.max_rss_mib),
            "< 0.5 s",
            Some(ok && best.seconds < 0.5),
        );
        Ok(())
    }

    /// The planner alone, in process (bench_planner.rs).
    fn planner(&mut self) -> Result<()> {
        let sizes: &[usize] = if self.quick { &[1_000] } else { &[1_000, 10_000] };
        progress(self.started, &format!("planner alone: {sizes:?} peerings"));
        let rows = bench_planner::measure_in_child(sizes)?;
        let mut section = String::from(
            "\n### The planner alone (in process, synthetic state)\n\n`peerctl-bench --only planner` (tests/bench_planner.rs): the specs and observed states of the AWS worlds below (hubs of 50 spokes over 2 accounts × 3 regions, 2 route tables and 1 group per side), made in memory. Time: the fastest of 3 (`load`) or 5 (`plan`) runs (fewer when a run takes over a second), on as many threads as the planner takes (one per 1,000 peerings, up to the cores). Peak heap: from one more run with a counting global allocator around peerctl's own (mimalloc), spec and state included (in brackets: above them); its shared counters would slow the timed runs. A plan that would take over a minute, extrapolated quadratically from the smaller size, is not run.\n\n| measurement | peerings | time | peak heap | steps |\n|---|--:|--:|--:|--:|\n",
        );
        for row in &rows {
            let (what, n) = (row.what.as_str(), row.peerings);
            let label = match what {
                "load" => "`load` (YAML → validated spec)",
                "plan_fresh" => "`plan`, nothing exists yet",
                "plan_converged" => "`plan`, converged",
                other => other,
            };
            let state = if what == "plan_fresh" { "nothing exists yet" } else { "converged" };
            let (seconds, peak, above, output) = match &row.outcome {
                bench_planner::Outcome::Measured { seconds, peak_bytes, above_inputs_bytes, output } => {
                    (*seconds, *peak_bytes as f64 / 1e6, *above_inputs_bytes as f64 / 1e6, output)
                }
                bench_planner::Outcome::Skipped { projected_seconds: projected } => {
                    let _ = writeln!(section, "| {label} | {n} | not run: ≈ {projected:.0} s, extrapolated quadratically | | |");
                    if n == 10_000 {
                        self.report.target(
                            format!("planner alone, 10,000 peerings, {state}: time"),
                            format!("≈ {projected:.0} s (too long to run; extrapolated from the smaller size)"),
                            "< 100 ms",
                            Some(false),
                        );
                    }
                    continue;
                }
            };
            let output = match (output, what) {
                (Err(error), _) => format!("refused: {}", error.lines().next().unwrap_or_default().replace('|', "\\|")),
                (Ok(_), "load") => String::new(),
                (Ok(steps), _) => steps.to_string(),
            };
            let _ = writeln!(section, "| {label} | {n} | {:.1} ms | {peak:.0} MB ({above:.0} MB) | {output} |", seconds * 1e3);
            if what == "plan_converged" && n == 1000 {
                self.report.planner_1000 = Some(seconds);
            }
            if what != "load" {
                let series = format!("planner alone, in process ({})", if what == "plan_fresh" { "fresh" } else { "converged" });
                self.report.times.entry(series).or_default().push((n as f64, seconds));
            }
            if n == 10_000 && what != "load" {
                self.report.target(
                    format!("planner alone, 10,000 peerings, {state}: time"),
                    format!("{:.0} ms", seconds * 1e3),
                    "< 100 ms",
                    Some(seconds < 0.1),
                );
                self.report.target(
                    format!("planner alone, 10,000 peerings, {state}: peak memory"),
                    format!("{peak:.0} MB ({above:.0} MB above spec and state)"),
                    "< 200 MB",
                    Some(peak < 200.0),
                );
            }
        }
        self.report.times.retain(|_, v| !v.is_empty());
        self.report.section(section);
        Ok(())
    }

    /// `plan` of a converged world: its row in `section`, its time and reads
    /// in the plot's series, and the per-resource reader's count (and how
    /// many times peerctl's that is) for the same world.
    fn plan_converged(
        &mut self,
        world: &World,
        env: &[(&'static str, String)],
        file: &str,
        server: Option<u32>,
        section: &mut String,
    ) -> (Measure, u64, f64) {
        let World { cloud, server: name, n, objects, built, reads_per_peering } = *world;
        // Exit 0 with --detailed-exitcode: nothing to do, the world is converged.
        let m = measure(env, &self.dir, &["plan", "-v", "--detailed-exitcode", file], server);
        if m.code != 0 {
            let text = m.stdout_text();
            eprintln!("the {cloud} world of {n} is not converged (exit {}):\n{}", m.code, &text[..text.len().min(3000)]);
        }
        let per_resource = reads_per_peering * n as u64;
        let ratio = per_resource as f64 / m.reads.max(1) as f64;
        let _ = writeln!(
            section,
            "| {n} | {name} | {objects} | {} s | {:.2} s | {:.2} s | {:.2} s | {:.1} MiB | {} | {per_resource} | {ratio:.0}× | {} |",
            if built < 10.0 { format!("{built:.2}") } else { format!("{built:.0}") },
            m.seconds,
            m.cpu_seconds,
            m.server_cpu_seconds.unwrap_or(f64::NAN),
            m.max_rss_mib,
            m.reads,
            m.code
        );
        let point = |v: f64| (n as f64, v);
        self.report.times.entry(format!("{cloud} plan ({name})")).or_default().push(point(m.seconds));
        // peerctl's side is the same whichever server answers: one point per size.
        let cpu = self.report.times.entry(format!("{cloud} plan: peerctl's CPU")).or_default();
        if cpu.last().is_none_or(|(last, _)| *last != n as f64) {
            cpu.push(point(m.cpu_seconds));
            self.report.calls.entry(format!("{cloud} plan: peerctl")).or_default().push(point(m.reads as f64));
            self.report.calls.entry(format!("{cloud}: per-resource reader")).or_default().push(point(per_resource as f64));
        }
        (m, per_resource, ratio)
    }

    /// Converged AWS worlds of 10, 100 and 1,000 peerings: plan's reads and time.
    async fn aws_scale(&mut self) -> Result<()> {
        let sizes: &[usize] = if self.quick { &[10, 100] } else { &[10, 100, 1000] };
        let mut section = String::from(
            "\n### AWS: plan of a converged world (moto)\n\nHubs of 50 spokes (the spoke requests, the hub accepts) over 2 accounts × 3 regions; every peering routed in 2 route tables per side, with one ingress rule per side. Each world is built directly through the EC2 API, then `plan --detailed-exitcode` must find nothing to do, twice: first against moto with two of its lookups made direct, then against moto as published. For each object it returns, moto as published scans every tag of its region to find the object's own (`TaggedEC2Resource.get_tags`) and turns each filter value into a regular expression to match it (`aws_api_matches`), both unchanged in 5.2.6: a Describe of n objects costs it n × the world. *Lookups direct* is the same moto with those two functions replaced (tests/moto_direct_lookups.py): tags looked up by the object's id, and a filter value without wildcards compared as it is; both give the same answers. The worlds are built against it. A per-resource reader (Terraform's pattern) reads each peering connection, route and rule once: 7 reads per peering.\n\n| peerings | server | VPCs | world built in | plan: wall | peerctl CPU | server CPU | peak RSS | Describe calls | per-resource reader | fewer | exit |\n|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        );
        for &n in sizes {
            progress(self.started, &format!("AWS: building a converged world of {n} peerings"));
            let peerings = hub_and_spokes(n, 50, 6);
            let moto = Moto::start_direct()?;
            let build = Instant::now();
            let builder = AwsBuilder::new(&moto).await;
            let vpcs = builder.vpcs(&ends(&peerings)).await?;
            builder.peer(&peerings, &vpcs).await?;
            let built = build.elapsed().as_secs_f64();
            let file = format!("aws-converged-{n}.yaml");
            self.write(&file, &aws_spec(&peerings))?;
            progress(self.started, &format!("AWS: world of {n} built in {built:.0} s; planning"));
            let world = World { cloud: "AWS", server: DIRECT, n, objects: vpcs.len(), built, reads_per_peering: 7 };
            let (direct, per_resource, ratio) = self.plan_converged(&world, &moto.env(), &file, Some(moto.pid()), &mut section);
            moto.switch_lookups()?;
            let world = World { server: PUBLISHED, ..world };
            let (published, _, _) = self.plan_converged(&world, &moto.env(), &file, Some(moto.pid()), &mut section);
            if n == 1000 {
                let by_op: Vec<String> = direct.ops.iter().map(|(op, c)| format!("{op} {c}")).collect();
                // Pages of one kind in one scope, at most: filters take 200 values, so 340 groups are 2 pages.
                let pages = direct.ops.values().map(|c| c.div_ceil(6)).max().unwrap_or(1);
                let bound = 6 * 5 * pages;
                self.report.target(
                    "AWS plan, 1,000 converged peerings: Describe calls",
                    format!("{} ({}); a per-resource reader: {per_resource}, {ratio:.0}× more", direct.reads, by_op.join(", ")),
                    format!("≤ 2 accounts × 3 regions × 5 kinds × {pages} pages = {bound}; ≥ 100× fewer than per-resource"),
                    Some(direct.reads <= bound && ratio >= 100.0 && direct.code == 0),
                );
                let planner = self.report.planner_1000.map(|p| format!(", of which planning {:.0} ms", p * 1e3)).unwrap_or_default();
                let time = |m: &Measure, name: &str| {
                    format!("{:.2} s with {name}: moto busy {:.2} s (CPU)", m.seconds, m.server_cpu_seconds.unwrap_or(f64::NAN))
                };
                self.report.target(
                    "AWS plan, 1,000 converged peerings: wall time (moto)",
                    format!("{}; {}; peerctl {:.2} s CPU{planner}", time(&direct, DIRECT), time(&published, PUBLISHED), direct.cpu_seconds),
                    "reported, with where the time goes",
                    Some(direct.code == 0 && published.code == 0),
                );
            }
        }
        self.report.section(section);
        let (direct, published) = (format!("AWS plan ({DIRECT})"), format!("AWS plan ({PUBLISHED})"));
        self.scaling_targets("AWS", &[(&direct, DIRECT), (&published, PUBLISHED)], "AWS plan: peerctl's CPU", "AWS plan: peerctl");
        Ok(())
    }

    /// Converged GCP worlds of 10, 100 and 1,000 peerings: plan's reads and time.
    async fn gcp_scale(&mut self) -> Result<()> {
        let sizes: &[usize] = if self.quick { &[10, 100] } else { &[10, 100, 1000] };
        let mut section = String::from(
            "\n### GCP: plan of a converged world (simulator)\n\nHubs of 25 spokes (GCP's default limit of 25 peerings per network) over 4 projects: 1,000 peerings take 40 hubs and 1,000 spokes. (1,000 peerings among only 40 networks cannot be made: 40 networks have 780 pairs.) Each world is built directly through the Compute API with the simulator's operations instant; plan must find nothing to do. A per-resource reader reads each peering entry and each firewall rule once: 4 reads per peering.\n\n| peerings | server | networks | world built in | plan: wall | peerctl CPU | server CPU | peak RSS | list calls | per-resource reader | fewer | exit |\n|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        );
        for &n in sizes {
            progress(self.started, &format!("GCP: building a converged world of {n} peerings"));
            let peerings = hub_and_spokes(n, 25, GCP_PROJECTS);
            let sim = start_sim(0).await?;
            let build = Instant::now();
            let all = ends(&peerings);
            gcp_networks(&sim, &all).await?;
            gcp_peer(&sim, &peerings).await?;
            let built = build.elapsed().as_secs_f64();
            let file = format!("gcp-converged-{n}.yaml");
            self.write(&file, &gcp_spec(&peerings))?;
            let world = World { cloud: "GCP", server: "simulator", n, objects: all.len(), built, reads_per_peering: 4 };
            let (m, per_resource, _) = self.plan_converged(&world, &sim.env(), &file, sim.pid(), &mut section);
            if n == 1000 {
                let by_op: Vec<String> = m.ops.iter().map(|(op, c)| format!("{op} {c}")).collect();
                self.report.target(
                    "GCP plan, 1,000 converged peerings (40 hubs × 25 spokes, 4 projects): wall time (simulator)",
                    format!(
                        "{:.2} s: simulator {:.2} s CPU, peerctl {:.2} s CPU; {} list calls ({}), per-resource reader {per_resource}",
                        m.seconds,
                        m.server_cpu_seconds.unwrap_or(f64::NAN),
                        m.cpu_seconds,
                        m.reads,
                        by_op.join(", ")
                    ),
                    "reported, with where the time goes",
                    Some(m.code == 0),
                );
            }
        }
        self.report.section(section);
        self.scaling_targets("GCP", &[("GCP plan (simulator)", "the simulator")], "GCP plan: peerctl's CPU", "GCP plan: peerctl");
        Ok(())
    }

    /// Flat calls and linear-or-better time from 10 to the largest size: the
    /// plan's wall time (server included) against each server in `walls`
    /// (series, server), and peerctl's own CPU time.
    fn scaling_targets(&mut self, cloud: &str, walls: &[(&str, &str)], cpu: &str, calls: &str) {
        let Some(c) = self.report.calls.get(calls).cloned() else { return };
        let calls_text: Vec<String> = c.iter().map(|(n, v)| format!("{v:.0} at {n:.0}")).collect();
        let flat = c.iter().all(|(_, v)| *v <= c[0].1 * 1.5);
        self.report.target(format!("{cloud} scaling: read calls"), calls_text.join(", "), "flat", Some(flat));
        let walls = walls.iter().map(|(series, server)| (*series, format!("plan time (wall, {server} included)")));
        for (series, what) in walls.chain([(cpu, "peerctl's own CPU time in plan".to_string())]) {
            let Some(t) = self.report.times.get(series).cloned() else { continue };
            let times_text: Vec<String> = t.iter().map(|(n, v)| format!("{v:.2} s at {n:.0}")).collect();
            // The growth from each size to the next, as an exponent: time ∝ n^k.
            let steps: Vec<(f64, f64, f64)> =
                t.windows(2).map(|w| (w[0].0, w[1].0, (w[1].1 / w[0].1).ln() / (w[1].0 / w[0].0).ln())).collect();
            let worst = steps.iter().map(|s| s.2).fold(f64::NEG_INFINITY, f64::max);
            let steps_text: Vec<String> = steps.iter().map(|(a, b, k)| format!("n^{k:.2} from {a:.0} to {b:.0}")).collect();
            self.report.target(
                format!("{cloud} scaling: {what}"),
                format!("{} (time ∝ {})", times_text.join(", "), steps_text.join(", ")),
                "linear or better (exponent ≤ 1 at every step)",
                Some(worst <= 1.0),
            );
        }
    }

    /// 200 new AWS peerings through EC2's buckets, enforced by the proxy:
    /// with peerctl's default parallelism (judged against the targets), then,
    /// when asked for, with `--aws-parallelism N`, to see what limits the first.
    async fn aws_apply(&mut self) -> Result<()> {
        let (hubs, per_hub) = if self.quick { (2, 10) } else { (10, 20) };
        let n = hubs * per_hub;
        let peerings = hub_and_spokes(n, per_hub, 6);
        let file = format!("aws-apply-{n}.yaml");
        self.write(&file, &aws_spec(&peerings))?;
        let mut section = format!(
            "\n### AWS: apply of {n} new peerings through EC2's request buckets\n\n{hubs} hubs × {per_hub} spokes over 2 accounts × 3 regions, 8 writes per peering (connection, acceptance, 4 routes, 2 rules): {} writes. peerctl talks to moto through a proxy that enforces EC2's published token buckets per account and region (mutating: burst 50, 5/s; others: burst 100, 20/s) and answers `RequestLimitExceeded` when one is empty, as EC2 does. *Fastest allowed*: each bucket's writes beyond its burst of 50 at 5/s, for the busiest bucket. *Share*: that time over the time from the first write to the last.\n\n| parallelism | apply wall time | writes (first to last) | fastest allowed | share of the allowed rate | buckets written within one second | throttled by the proxy | peerctl's count (`-v`) | peak RSS | exit |\n|--:|--:|--:|--:|--:|--:|---|---|--:|--:|\n",
            8 * n
        );
        for parallelism in [None].into_iter().chain(self.aws_parallelism.clone().map(Some)) {
            progress(self.started, &format!("AWS apply: {n} new peerings, parallelism {}", parallelism.as_deref().unwrap_or("default")));
            let moto = Moto::start()?;
            let builder = AwsBuilder::new(&moto).await;
            builder.vpcs(&ends(&peerings)).await?;
            let proxy = ThrottlingProxy::start(&moto.endpoint)?;
            let env = moto.via(&proxy.endpoint).env();
            let mut args = vec!["apply", "-v", "--auto-approve", file.as_str()];
            if let Some(p) = &parallelism {
                args.extend(["--parallelism", p.as_str()]);
            }
            let m = measure(&env, &self.dir, &args, Some(moto.pid()));
            let log = proxy.log.lock().unwrap_or_else(|e| e.into_inner());
            let all: Vec<f64> = log.writes.values().flatten().copied().collect();
            let first = all.iter().copied().fold(f64::INFINITY, f64::min);
            let last = all.iter().copied().fold(0.0, f64::max);
            let window = (last - first).max(1e-9);
            // The fastest any client could go within the buckets.
            let bound = log.writes.values().map(|w| (w.len() as f64 - 50.0).max(0.0) / 5.0).fold(0.0, f64::max);
            let efficiency = bound / window;
            // How many buckets took writes within the same second, at most.
            let mut concurrent = 0;
            for t in &all {
                let busy = log.writes.values().filter(|w| w.iter().any(|x| (x - t).abs() < 0.5)).count();
                concurrent = concurrent.max(busy);
            }
            if let Ok(path) = std::env::var("PEERCTL_BENCH_DUMP") {
                let throttled: Vec<Value> = log.throttles.iter().map(|((b, m), t)| json!({"bucket": b, "mutating": m, "at": t})).collect();
                let dump = json!({"writes": log.writes, "throttled": throttled});
                let _ = std::fs::write(format!("{path}.{}", parallelism.as_deref().unwrap_or("default")), dump.to_string());
            }
            let throttles: Vec<String> = log
                .throttles
                .iter()
                .map(|((bucket, mutating), at)| {
                    let times: Vec<String> = at.iter().map(|t| format!("{:.1} s", t - first)).collect();
                    let (key, region) = bucket.split_once('/').unwrap_or((bucket, ""));
                    let account = if key == "testing" { MAIN_ACCOUNT } else { OTHER_ACCOUNT };
                    format!("{account}/{region} {} at {}", if *mutating { "write" } else { "read" }, times.join(", "))
                })
                .collect();
            let _ = writeln!(
                section,
                "| {} | {:.1} s | {} in {window:.1} s ({:.1}/s) | {bound:.1} s ({:.1}/s) | {:.0} % | {concurrent} of {} | {}{} | {} | {:.1} MiB | {} |",
                parallelism.as_deref().unwrap_or("10 (default)"),
                m.seconds,
                all.len(),
                all.len() as f64 / window,
                all.len() as f64 / bound.max(1e-9),
                efficiency * 100.0,
                log.writes.len(),
                log.throttled,
                if throttles.is_empty() { String::new() } else { format!(": {}", throttles.join("; ")) },
                m.calls,
                m.max_rss_mib,
                m.code
            );
            if parallelism.is_none() {
                let mut per_bucket: Vec<String> = Vec::new();
                for (bucket, writes) in &log.writes {
                    let (key, region) = bucket.split_once('/').unwrap_or((bucket, ""));
                    let account = if key == "testing" { MAIN_ACCOUNT } else { OTHER_ACCOUNT };
                    per_bucket.push(format!("{account}/{region} {}", writes.len()));
                }
                self.report.target(
                    format!("AWS apply, {n} new peerings: rate within EC2's buckets"),
                    format!("{:.0} % ({} writes in {window:.1} s; the buckets allow {bound:.1} s)", efficiency * 100.0, all.len()),
                    "≥ 90 %",
                    Some(efficiency >= 0.9 && m.code == 0),
                );
                self.report.target(
                    format!("AWS apply, {n} new peerings: throttled calls"),
                    format!(
                        "{}{}",
                        log.throttled,
                        if throttles.is_empty() { String::new() } else { format!(" ({})", throttles.join("; ")) }
                    ),
                    "0",
                    Some(log.throttled == 0),
                );
                self.report.target(
                    format!("AWS apply, {n} new peerings: scopes in parallel"),
                    format!(
                        "{concurrent} of {} (account, region) buckets written within one second; writes per bucket: {}",
                        log.writes.len(),
                        per_bucket.join(", ")
                    ),
                    "several at once",
                    Some(concurrent > 1),
                );
            }
        }
        self.report.section(section);
        Ok(())
    }

    /// 100 GCP peerings on 10 hubs, 2 s per operation.
    async fn gcp_apply(&mut self) -> Result<()> {
        let (hubs, per_hub, latency) = if self.quick { (2, 5, 2.0) } else { (10, 10, 2.0) };
        let n = hubs * per_hub;
        progress(self.started, &format!("GCP apply: {n} peerings on {hubs} hubs, {latency} s operations"));
        let peerings = hub_and_spokes(n, per_hub, GCP_PROJECTS);
        let sim = start_sim(0).await?;
        gcp_networks(&sim, &ends(&peerings)).await?;
        sim.configure(json!({"operation_latency_ms": (latency * 1000.0) as u64})).await?;
        let file = format!("gcp-apply-{n}.yaml");
        self.write(&file, &gcp_spec(&peerings))?;
        let mut section = format!(
            "\n### GCP: apply of {n} peerings on {hubs} hub networks ({latency:.0} s per operation)\n\n{hubs} hubs × {per_hub} spokes over {GCP_PROJECTS} projects: 4 operations per peering (an entry on each network, a firewall rule on each). One peering operation at a time per network: each hub's {} entry operations run one after another, so no apply can take less than {:.0} s; one after another, all {} operations would take {:.0} s.\n\n| parallelism | wall time | writes done by | lower bound (per-network order; slots) | peak RSS | API calls | exit |\n|--:|--:|--:|--:|--:|---|--:|\n",
            2 * per_hub,
            2.0 * per_hub as f64 * latency,
            4 * n,
            4.0 * n as f64 * latency
        );
        let chain = 2.0 * per_hub as f64 * latency;
        // The second run (40 slots, bound by the per-network order alone) only with `--all`.
        for parallelism in [10usize, 40].into_iter().take(if self.all { 2 } else { 1 }) {
            if parallelism != 10 {
                // Start again from networks without peerings.
                sim.configure(json!({"operation_latency_ms": 0})).await?;
                reset_gcp(&sim, &peerings).await?;
                sim.configure(json!({"operation_latency_ms": (latency * 1000.0) as u64})).await?;
            }
            let p = parallelism.to_string();
            let m = measure(&sim.env(), &self.dir, &["apply", "-v", "--auto-approve", "--parallelism", &p, &file], sim.pid());
            // Writes are done when the last step's "done" line appears.
            let done = m.stderr.iter().filter(|(_, l)| l.contains(" ... done")).map(|(t, _)| *t).fold(0.0, f64::max);
            let slots = 4.0 * n as f64 * latency / parallelism as f64;
            let bound = chain.max(slots);
            let _ = writeln!(
                section,
                "| {parallelism}{} | {:.1} s | {done:.1} s | {bound:.0} s ({chain:.0} s; {slots:.0} s) | {:.1} MiB | {} | {} |",
                if parallelism == 10 { " (default)" } else { "" },
                m.seconds,
                m.max_rss_mib,
                m.calls,
                m.code
            );
            self.report.target(
                format!("GCP apply, {n} peerings on {hubs} hubs, {latency:.0} s operations, --parallelism {parallelism}"),
                format!("{:.1} s, {:.1}× the lower bound of {bound:.0} s (writes done at {done:.1} s)", m.seconds, m.seconds / bound),
                format!(
                    "serialised per network, parallel across networks: near the lower bound (≤ 1.5×), which is one hub's {} peering operations in a row ({chain:.0} s){}",
                    2 * per_hub,
                    if slots > chain { format!(" or, with {parallelism} slots, {slots:.0} s") } else { String::new() }
                ),
                Some(m.code == 0 && m.seconds <= 1.5 * bound),
            );
        }
        self.report.section(section);
        Ok(())
    }
}

/// Removes every peering entry and firewall rule of `peerings` (operations instant).
async fn reset_gcp(sim: &Sim, peerings: &[PeeringDef]) -> Result<()> {
    stream::iter(peerings.iter().map(|p| async move {
        let entry = format!("{OWNER}--{}", p.name);
        for (this, side) in [(&p.requester, 'a'), (&p.accepter, 'b')] {
            let _ = sim.call(reqwest::Method::POST, &format!("{}/removePeering", gcp_path(this)), Some(json!({"name": entry}))).await;
            let path = format!("projects/{}/global/firewalls/peerctl-{entry}-{side}", gcp_project(this));
            let _ = sim.call(reqwest::Method::DELETE, &path, None).await;
        }
        Ok::<_, peerctl_e2e::Error>(())
    }))
    .buffer_unordered(16)
    .try_collect::<Vec<()>>()
    .await?;
    Ok(())
}

// ====================================================================== docs

const BEGIN: &str = "<!-- figures: written by `./just bench` (tests/bench.rs); edit outside these markers -->";
const END: &str = "<!-- end of figures -->";

fn figures_markdown(bench: &Bench, total: f64, build: Option<f64>) -> String {
    let mut text = String::new();
    let moto = Command::new(python())
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "?".into());
    let date =
        Command::new("date").arg("+%Y-%m-%d").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let _ = writeln!(text, "Measured {date} by `./just bench` on a {cores}-core machine (shared), release build, moto {moto}.");
    let total_text = match build {
        Some(build) => format!("{:.1} min (build {:.1} min, bench {:.1} min)", (total + build) / 60.0, build / 60.0, total / 60.0),
        None => format!("{:.1} min (bench only; the build was not timed)", total / 60.0),
    };
    let _ = writeln!(text, "`./just bench` took {total_text}.\n");
    text.push_str("## Targets (issue 6)\n\n| what | measured | target | |\n|---|---|---|:-:|\n");
    for t in &bench.report.targets {
        let mark = match t.met {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "–",
        };
        let _ = writeln!(text, "| {} | {} | {} | {mark} |", t.what, t.measured, t.goal);
    }
    let whole = build.map(|b| b + total).unwrap_or(total);
    // A build of a few minutes reused a warm target directory: not what a clean clone costs.
    let clean = build.is_some_and(|b| b > 300.0);
    let _ = writeln!(
        text,
        "| `./just bench`, whole | {:.1} min{} | < 20 min from a clean clone | {} |",
        whole / 60.0,
        if clean { "" } else { " (target directory warm, so not a clean clone's time: see below)" },
        match (clean, whole < 1200.0) {
            (false, _) => "–",
            (true, true) => "✓",
            (true, false) => "✗",
        }
    );
    text.push_str("\n![Plan time and read calls against the number of peerings](scaling.png)\n");
    text.push_str("\n## Figures\n");
    for section in &bench.report.sections {
        text.push_str(section);
    }
    text
}

fn write_docs(markdown: &str) -> Result<()> {
    let path = workspace_root().join("docs/benchmarks.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(begin), Some(end)) = (current.find(BEGIN), current.find(END)) else {
        return Err(format!("{} lacks the markers `{BEGIN}` … `{END}`", path.display()).into());
    };
    let updated = format!("{}{BEGIN}\n\n{}\n{}", &current[..begin], markdown.trim_end(), &current[end..]);
    std::fs::write(&path, updated)?;
    Ok(())
}

// ====================================================================== plot

mod plot {
    //! A PNG of two log-log panels, drawn into a pixel buffer: no plotting
    //! library, text through ab_glyph from a system TrueType font when one
    //! exists (otherwise the picture has no labels).

    use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
    use std::collections::BTreeMap;
    use std::path::Path;

    pub type Series = BTreeMap<String, Vec<(f64, f64)>>;

    struct Canvas {
        width: usize,
        height: usize,
        pixels: Vec<[f32; 3]>,
        font: Option<FontVec>,
    }

    const COLORS: [[f32; 3]; 7] = [
        [0.12, 0.47, 0.71],
        [0.84, 0.15, 0.16],
        [0.17, 0.63, 0.17],
        [1.0, 0.5, 0.05],
        [0.58, 0.40, 0.74],
        [0.55, 0.34, 0.29],
        [0.09, 0.75, 0.81],
    ];
    const GREY: [f32; 3] = [0.85, 0.85, 0.85];
    const INK: [f32; 3] = [0.1, 0.1, 0.1];

    fn font() -> Option<FontVec> {
        let known = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        ];
        let mut candidates: Vec<std::path::PathBuf> = known.iter().map(Into::into).collect();
        let mut stack = vec![std::path::PathBuf::from("/usr/share/fonts")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "ttf") {
                    candidates.push(path);
                }
            }
        }
        candidates.iter().filter_map(|p| std::fs::read(p).ok()).find_map(|bytes| FontVec::try_from_vec(bytes).ok())
    }

    impl Canvas {
        fn new(width: usize, height: usize) -> Canvas {
            Canvas { width, height, pixels: vec![[1.0; 3]; width * height], font: font() }
        }

        fn blend(&mut self, x: i64, y: i64, color: [f32; 3], alpha: f32) {
            if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
                return;
            }
            let p = &mut self.pixels[y as usize * self.width + x as usize];
            for i in 0..3 {
                p[i] = p[i] * (1.0 - alpha) + color[i] * alpha;
            }
        }

        /// A line `width` pixels wide, anti-aliased by distance to the segment.
        fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), color: [f32; 3], width: f64) {
            let r = width / 2.0;
            let (minx, maxx) = ((x0.min(x1) - r - 1.0) as i64, (x0.max(x1) + r + 1.0) as i64);
            let (miny, maxy) = ((y0.min(y1) - r - 1.0) as i64, (y0.max(y1) + r + 1.0) as i64);
            let (dx, dy) = (x1 - x0, y1 - y0);
            let len2 = (dx * dx + dy * dy).max(1e-9);
            for y in miny..=maxy {
                for x in minx..=maxx {
                    let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                    let t = (((px - x0) * dx + (py - y0) * dy) / len2).clamp(0.0, 1.0);
                    let d = ((px - x0 - t * dx).powi(2) + (py - y0 - t * dy).powi(2)).sqrt();
                    let alpha = (r + 0.5 - d).clamp(0.0, 1.0) as f32;
                    if alpha > 0.0 {
                        self.blend(x, y, color, alpha);
                    }
                }
            }
        }

        fn dot(&mut self, (cx, cy): (f64, f64), radius: f64, color: [f32; 3]) {
            for y in (cy - radius - 1.0) as i64..=(cy + radius + 1.0) as i64 {
                for x in (cx - radius - 1.0) as i64..=(cx + radius + 1.0) as i64 {
                    let d = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
                    let alpha = (radius + 0.5 - d).clamp(0.0, 1.0) as f32;
                    if alpha > 0.0 {
                        self.blend(x, y, color, alpha);
                    }
                }
            }
        }

        fn text_width(&self, text: &str, size: f32) -> f64 {
            let Some(font) = &self.font else { return 0.0 };
            let scaled = font.as_scaled(PxScale::from(size));
            text.chars().map(|c| scaled.h_advance(scaled.glyph_id(c)) as f64).sum()
        }

        /// `text` with its baseline at `y`, starting at `x` minus `anchor` × its width.
        fn text(&mut self, text: &str, (x, y): (f64, f64), size: f32, anchor: f64, color: [f32; 3]) {
            let width = self.text_width(text, size);
            let Some(font) = self.font.take() else { return };
            let scaled = font.as_scaled(PxScale::from(size));
            let mut pen = x - anchor * width;
            for c in text.chars() {
                let id = scaled.glyph_id(c);
                let glyph = id.with_scale_and_position(PxScale::from(size), ab_glyph::point(pen as f32, y as f32));
                pen += scaled.h_advance(id) as f64;
                if let Some(outline) = font.outline_glyph(glyph) {
                    let bounds = outline.px_bounds();
                    outline.draw(|gx, gy, coverage| {
                        self.blend(bounds.min.x as i64 + gx as i64, bounds.min.y as i64 + gy as i64, color, coverage.min(1.0));
                    });
                }
            }
            self.font = Some(font);
        }

        /// Text turned a quarter left, centred on (x, y): drawn flat, then rotated into place.
        fn vertical_text(&mut self, text: &str, (x, y): (f64, f64), size: f32, color: [f32; 3]) {
            let width = self.text_width(text, size).ceil() as usize + 4;
            let height = (size * 1.4) as usize;
            let mut flat = Canvas { width, height, pixels: vec![[1.0; 3]; width * height], font: self.font.take() };
            flat.text(text, (2.0, size as f64), size, 0.0, color);
            self.font = flat.font.take();
            for fy in 0..height {
                for fx in 0..width {
                    let p = flat.pixels[fy * width + fx];
                    let alpha = 1.0 - (p[0] + p[1] + p[2]) / 3.0;
                    if alpha > 0.01 {
                        let tx = x - height as f64 / 2.0 + fy as f64;
                        let ty = y + width as f64 / 2.0 - fx as f64;
                        self.blend(tx as i64, ty as i64, color, alpha.min(1.0));
                    }
                }
            }
        }

        fn save(&self, path: &Path) -> std::io::Result<()> {
            let file = std::fs::File::create(path)?;
            let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width as u32, self.height as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
            let bytes: Vec<u8> = self.pixels.iter().flat_map(|p| p.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)).collect();
            writer.write_image_data(&bytes).map_err(std::io::Error::other)?;
            writer.finish().map_err(std::io::Error::other)
        }
    }

    fn decades(values: impl Iterator<Item = f64>) -> (i32, i32) {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| *v > 0.0 && v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            return (0, 1);
        }
        let (lo, hi) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (lo, hi.max(lo + 1))
    }

    fn label(exponent: i32, unit: &str) -> String {
        let value = 10f64.powi(exponent);
        match unit {
            "s" if exponent < 0 => format!("{:.0} ms", value * 1000.0),
            "s" => format!("{value} s"),
            _ if exponent >= 3 => format!("{}k", value / 1000.0),
            _ => format!("{value}"),
        }
    }

    /// One panel: log-log axes from the data's decades, a line per series, a legend.
    fn panel(canvas: &mut Canvas, origin: (f64, f64), size: (f64, f64), title: &str, unit: &str, series: &Series) {
        let (left, top) = (origin.0 + 70.0, origin.1 + 40.0);
        let (width, height) = (size.0 - 110.0, size.1 - 95.0);
        let (x0, x1) = decades(series.values().flatten().map(|p| p.0));
        let (y0, y1) = decades(series.values().flatten().map(|p| p.1));
        let x = |v: f64| left + (v.log10() - x0 as f64) / (x1 - x0) as f64 * width;
        let y = |v: f64| top + height - (v.log10() - y0 as f64) / (y1 - y0) as f64 * height;
        canvas.text(title, (left + width / 2.0, origin.1 + 24.0), 17.0, 0.5, INK);
        for e in x0..=x1 {
            let px = x(10f64.powi(e));
            canvas.line((px, top), (px, top + height), GREY, 1.0);
            canvas.text(&label(e, ""), (px, top + height + 18.0), 13.0, 0.5, INK);
        }
        for e in y0..=y1 {
            let py = y(10f64.powi(e));
            canvas.line((left, py), (left + width, py), GREY, 1.0);
            canvas.text(&label(e, unit), (left - 6.0, py + 4.0), 13.0, 1.0, INK);
        }
        canvas.line((left, top), (left, top + height), INK, 1.5);
        canvas.line((left, top + height), (left + width, top + height), INK, 1.5);
        canvas.text("peerings", (left + width / 2.0, top + height + 38.0), 14.0, 0.5, INK);
        canvas.vertical_text(if unit == "s" { "time" } else { "read calls per plan" }, (origin.0 + 14.0, top + height / 2.0), 14.0, INK);
        if unit == "s" {
            // A dashed line ∝ n through the first point of the first series: linear growth, for reference.
            if let Some(&(n0, t0)) = series.values().next().and_then(|p| p.first()) {
                let (a, b) = (10f64.powi(x0), 10f64.powi(x1));
                let (start, end) = ((x(a), y(t0 * a / n0)), (x(b), y(t0 * b / n0)));
                let steps = 60;
                for k in (0..steps).step_by(2) {
                    let f = |k: usize| k as f64 / steps as f64;
                    let p = |t: f64| (start.0 + (end.0 - start.0) * t, start.1 + (end.1 - start.1) * t);
                    let (from, to) = (p(f(k)), p(f(k + 1)));
                    if from.1 >= top && to.1 >= top && from.1 <= top + height && to.1 <= top + height {
                        canvas.line(from, to, [0.6, 0.6, 0.6], 1.5);
                    }
                }
                let ly = top + 14.0 + series.len() as f64 * 20.0;
                for k in 0..3 {
                    canvas.line((left + 12.0 + k as f64 * 9.0, ly - 4.0), (left + 17.0 + k as f64 * 9.0, ly - 4.0), [0.6, 0.6, 0.6], 1.5);
                }
                canvas.text("∝ peerings (linear), for reference", (left + 42.0, ly), 13.0, 0.0, INK);
            }
        }
        for (i, (name, points)) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let mut points: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0 > 0.0 && p.1 > 0.0).collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            for pair in points.windows(2) {
                canvas.line((x(pair[0].0), y(pair[0].1)), (x(pair[1].0), y(pair[1].1)), color, 2.5);
            }
            for p in &points {
                canvas.dot((x(p.0), y(p.1)), 4.0, color);
            }
            let ly = top + 14.0 + i as f64 * 20.0;
            canvas.line((left + 12.0, ly - 4.0), (left + 36.0, ly - 4.0), color, 2.5);
            canvas.text(name, (left + 42.0, ly), 13.0, 0.0, INK);
        }
    }

    /// Two panels side by side: plan wall time, and read calls per plan.
    pub fn draw(path: &Path, times: &Series, calls: &Series) -> std::io::Result<()> {
        let mut canvas = Canvas::new(1400, 560);
        panel(&mut canvas, (0.0, 0.0), (700.0, 560.0), "Plan time: wall, and peerctl's CPU", "s", times);
        panel(&mut canvas, (700.0, 0.0), (700.0, 560.0), "Read calls per plan (log scale)", "", calls);
        canvas.save(path)
    }
}

// ====================================================================== main

const USAGE: &str = "usage: peerctl-bench [--all] [--quick] [--no-docs] [--only SECTION,...] [--aws-parallelism N]
  --all                  also the GCP apply with 40 slots and the small worlds (no target needs them)
  --quick                10 and 100 peerings only, for trying the bench out
  --no-docs              print the figures; leave docs/benchmarks.md and docs/scaling.png as they are
  --only SECTION,...     just these sections, printed, no docs: planner, validate, aws-plan, gcp-plan, aws-apply, gcp-apply, small
  --aws-parallelism N    the AWS apply once more, with --parallelism N";
const SECTIONS: [&str; 7] = ["planner", "validate", "aws-plan", "gcp-plan", "aws-apply", "gcp-apply", "small"];

/// What the command line asks for.
#[derive(Default)]
struct Args {
    all: bool,
    quick: bool,
    no_docs: bool,
    /// `--only a,b`: just these sections (and no docs), for working on one of them.
    only: Option<Vec<String>>,
    aws_parallelism: Option<String>,
}

impl Args {
    /// `--help` prints the usage; anything it does not list stops the bench
    /// before it starts a server (exit 2), as a mistyped section would
    /// otherwise run nothing and a mistyped flag everything.
    fn parse(args: &[String]) -> Self {
        let fail = |why: String| -> ! {
            eprintln!("peerctl-bench: {why}\n{USAGE}");
            std::process::exit(2)
        };
        let mut parsed = Args::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0)
                }
                "--all" => parsed.all = true,
                "--quick" => parsed.quick = true,
                "--no-docs" => parsed.no_docs = true,
                "--only" => {
                    let sections = rest.next().unwrap_or_else(|| fail("--only needs a list of sections".into()));
                    if let Some(bad) = sections.split(',').find(|s| !SECTIONS.contains(s)) {
                        fail(format!("--only: no section {bad:?}"));
                    }
                    parsed.only = Some(sections.split(',').map(str::to_string).collect());
                }
                "--aws-parallelism" => match rest.next() {
                    Some(n) if n.parse::<u32>().is_ok_and(|n| n > 0) => parsed.aws_parallelism = Some(n.clone()),
                    _ => fail("--aws-parallelism needs a number of slots above 0".into()),
                },
                other => fail(format!("unknown argument {other:?}")),
            }
        }
        parsed
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [child, sizes] = args.as_slice()
        && child == "--planner-child"
    {
        bench_planner::child(sizes);
        return Ok(());
    }
    if args.first().is_some_and(|a| a == "--measured-child") {
        measured_child(&args[1..]);
    }
    let Args { all, quick, no_docs, only, aws_parallelism } = Args::parse(&args);
    let dir = std::env::temp_dir().join(format!("peerctl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    eprintln!("peerctl binary: {}", peerctl_bin().display());
    let mut bench = Bench {
        dir: dir.clone(),
        started: Instant::now(),
        quick,
        all,
        aws_parallelism,
        report: Report::default(),
    };

    let run = |section: &str| only.as_ref().is_none_or(|o| o.iter().any(|s| s == section));
    if run("planner") {
        bench.planner()?;
    }
    if run("validate") {
        bench.validate_large()?;
    }
    // The GCP apply waits on its 2 s operations almost all of its time, so it
    // runs on its own thread beside the AWS plans (not beside the planner, whose
    // milliseconds its start would disturb); its figures join the report after
    // the AWS apply's, where they always stood.
    let gcp_apply = run("gcp-apply").then(|| {
        let mut beside = Bench { report: Report::default(), aws_parallelism: None, dir: bench.dir.clone(), ..bench };
        std::thread::spawn(move || -> Result<Report> {
            tokio::runtime::Runtime::new()?.block_on(beside.gcp_apply())?;
            Ok(beside.report)
        })
    });
    if run("aws-plan") {
        bench.aws_scale().await?;
    }
    if run("gcp-plan") {
        bench.gcp_scale().await?;
    }
    if run("aws-apply") {
        bench.aws_apply().await?;
    }
    if let Some(beside) = gcp_apply {
        let report = beside.join().map_err(|_| "the GCP apply's thread panicked")??;
        bench.report.targets.extend(report.targets);
        bench.report.sections.extend(report.sections);
    }
    if only.as_ref().map_or(bench.all, |o| o.iter().any(|s| s == "small")) {
        bench.small_worlds().await?;
    }

    let total = bench.started.elapsed().as_secs_f64();
    // The recipe passes when it started (seconds since the epoch), so the build counts too.
    let build = std::env::var("PEERCTL_BENCH_STARTED").ok().and_then(|s| s.parse::<f64>().ok()).map(|start| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(start);
        (now - start - total).max(0.0)
    });
    progress(bench.started, "writing the figures");
    let markdown = figures_markdown(&bench, total, build);
    if no_docs || only.is_some() {
        println!("{markdown}");
    } else {
        write_docs(&markdown)?;
        plot::draw(&workspace_root().join("docs/scaling.png"), &bench.report.times, &bench.report.calls)?;
        eprintln!("wrote docs/benchmarks.md and docs/scaling.png");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
