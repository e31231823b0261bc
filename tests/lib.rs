//! Test harness for peerctl's end-to-end tests and the demo: starts moto's EC2
//! server on a free loopback port, builds VPC worlds through the AWS SDK the
//! way a user's infrastructure code would, and runs the `peerctl` binary.

pub mod faults;
pub mod proxy;
pub mod sim;

pub use sim::Sim;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The second account moto models, reached by assuming a role in it.
pub const OTHER_ACCOUNT: &str = "111111111111";
pub const OTHER_ROLE: &str = "arn:aws:iam::111111111111:role/peerctl";
pub const MAIN_ACCOUNT: &str = "123456789012";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// moto's server: `PEERCTL_MOTO_SERVER`, else the project's `.venv`, else PATH.
fn moto_server_command() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PEERCTL_MOTO_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.exists() {
        return Ok(venv);
    }
    Err("moto_server not found: run `./just setup` (it installs moto[server] into .venv) or set PEERCTL_MOTO_SERVER".into())
}

/// The Python with moto and google-cloud-compute: `PEERCTL_PYTHON`, else the project's `.venv`.
pub fn python() -> String {
    std::env::var("PEERCTL_PYTHON").unwrap_or_else(|_| workspace_root().join(".venv/bin/python3").display().to_string())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running moto server; stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Result<Moto> {
        Moto::spawn(Command::new(moto_server_command()?))
    }

    /// moto with two lookups made direct (tests/moto_direct_lookups.py): an
    /// object's tags by its id, a filter value without wildcards by equality,
    /// for the bench's large worlds; `switch_lookups` goes to moto as
    /// published and back.
    pub fn start_direct() -> Result<Moto> {
        let mut command = Command::new(python());
        command.arg(workspace_root().join("tests/moto_direct_lookups.py"));
        Moto::spawn(command)
    }

    fn spawn(mut command: Command) -> Result<Moto> {
        let port = free_port()?;
        let child = command.args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("moto_server did not start listening within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    /// Switches a `start_direct` server between its direct lookups and moto
    /// as published (SIGUSR1). Python runs the handler between two requests, at
    /// most half a second into its idle loop, so this waits a second.
    pub fn switch_lookups(&self) -> Result<()> {
        let status = Command::new("kill").args(["-USR1", &self.child.id().to_string()]).status()?;
        if !status.success() {
            return Err(format!("kill -USR1 {}: {status}", self.child.id()).into());
        }
        std::thread::sleep(Duration::from_secs(1));
        Ok(())
    }

    /// A handle on a server someone else started (the demo's); never stopped by us.
    pub fn attach(endpoint: String) -> Moto {
        let child = Command::new("true").spawn().unwrap_or_else(|e| panic!("cannot spawn `true`: {e}"));
        Moto { child, endpoint }
    }

    /// The same server reached through another endpoint (e.g. a proxy).
    pub fn via(&self, endpoint: &str) -> Moto {
        let mut other = Moto::attach(endpoint.to_string());
        other.endpoint = endpoint.to_string();
        other
    }

    /// The server's process id (for its CPU time, in the bench).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The environment a user would set to point the AWS SDK at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/nonexistent/peerctl-test-config".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/peerctl-test-credentials".into()),
        ]
    }

    /// An EC2 client for `region`, in the main account or, through the role, the other one.
    pub async fn ec2(&self, region: &str, role_arn: Option<&str>) -> Client {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"));
        if role_arn.is_none() {
            return Client::new(&loader.load().await);
        }
        let base = loader.load().await;
        let role = aws_config::sts::AssumeRoleProvider::builder(role_arn.unwrap_or_default())
            .session_name("peerctl-test")
            .configure(&base)
            .build()
            .await;
        loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(role);
        Client::new(&loader.load().await)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A VPC as a user's infrastructure would make it: Name-tagged, with a
/// private route table and a security group.
#[derive(Debug, Clone)]
pub struct TestVpc {
    pub id: String,
    pub route_table: String,
    pub security_group: String,
}

pub fn tag_spec(kind: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder().resource_type(kind).tags(Tag::builder().key("Name").value(name).build()).build()
}

/// Creates `{name}-vpc` with `cidr`, `{name}-private-route-table` and security group `{name}`.
pub async fn create_vpc(ec2: &Client, name: &str, cidr: &str) -> Result<TestVpc> {
    let vpc = ec2.create_vpc().cidr_block(cidr).tag_specifications(tag_spec(ResourceType::Vpc, &format!("{name}-vpc"))).send().await?;
    let id = vpc.vpc().and_then(|v| v.vpc_id()).ok_or("no vpc id")?.to_string();
    let table = ec2
        .create_route_table()
        .vpc_id(&id)
        .tag_specifications(tag_spec(ResourceType::RouteTable, &format!("{name}-private-route-table")))
        .send()
        .await?;
    let route_table = table.route_table().and_then(|t| t.route_table_id()).ok_or("no route table id")?.to_string();
    let group = ec2.create_security_group().vpc_id(&id).group_name(name).description(format!("{name} services")).send().await?;
    let security_group = group.group_id().ok_or("no group id")?.to_string();
    Ok(TestVpc { id, route_table, security_group })
}

/// A new internet gateway attached to `vpc`: a target for routes peerctl does not own.
pub async fn internet_gateway(ec2: &Client, vpc: &str) -> Result<String> {
    let created = ec2.create_internet_gateway().send().await?;
    let igw = created.internet_gateway().and_then(|g| g.internet_gateway_id()).ok_or("no gateway id")?.to_string();
    ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(vpc).send().await?;
    Ok(igw)
}

/// Routes of a table as (destination, target).
pub async fn routes(ec2: &Client, table: &str) -> Result<Vec<(String, String)>> {
    let out = ec2.describe_route_tables().route_table_ids(table).send().await?;
    Ok(out
        .route_tables()
        .iter()
        .flat_map(|t| t.routes())
        .map(|r| {
            let dest = r.destination_cidr_block().or(r.destination_ipv6_cidr_block()).unwrap_or_default().to_string();
            let target = r.vpc_peering_connection_id().or(r.gateway_id()).unwrap_or_default().to_string();
            (dest, target)
        })
        .collect())
}

/// Ingress rules of a group as (protocol, from, to, cidr, tags).
pub async fn ingress_rules(ec2: &Client, group: &str) -> Result<Vec<(String, i32, i32, String, Vec<(String, String)>)>> {
    let out = ec2.describe_security_group_rules().filters(Filter::builder().name("group-id").values(group).build()).send().await?;
    Ok(out
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() != Some(true))
        .map(|r| {
            let tags =
                r.tags().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect();
            (
                r.ip_protocol().unwrap_or_default().to_string(),
                r.from_port().unwrap_or(-1),
                r.to_port().unwrap_or(-1),
                r.cidr_ipv4().unwrap_or_default().to_string(),
                tags,
            )
        })
        .collect())
}

/// Peering connections visible in a region, as (id, status, requester vpc, accepter vpc).
pub async fn connections(ec2: &Client) -> Result<Vec<(String, String, String, String)>> {
    let out = ec2.describe_vpc_peering_connections().send().await?;
    Ok(out
        .vpc_peering_connections()
        .iter()
        .map(|c| {
            (
                c.vpc_peering_connection_id().unwrap_or_default().to_string(),
                c.status().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default(),
                c.requester_vpc_info().and_then(|v| v.vpc_id()).unwrap_or_default().to_string(),
                c.accepter_vpc_info().and_then(|v| v.vpc_id()).unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// The `peerctl` binary built beside this test binary (or `PEERCTL_BIN`).
pub fn peerctl_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PEERCTL_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(|d| if d.ends_with("deps") { d.parent().unwrap_or(d) } else { d }).unwrap_or(Path::new("."));
    dir.join("peerctl")
}

/// A local cloud peerctl can be pointed at through its environment.
pub trait Cloud {
    fn env(&self) -> Vec<(&'static str, String)>;
}

impl Cloud for Moto {
    fn env(&self) -> Vec<(&'static str, String)> {
        Moto::env(self)
    }
}

impl Cloud for Sim {
    fn env(&self) -> Vec<(&'static str, String)> {
        Sim::env(self)
    }
}

/// No cloud: for commands that never call one.
impl Cloud for () {
    fn env(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// Both clouds at once, for specs that hold AWS and GCP peerings.
impl<A: Cloud, B: Cloud> Cloud for (&A, &B) {
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.0.env();
        env.extend(self.1.env());
        env
    }
}

/// Runs peerctl with `args`, pointed at `cloud`, in `dir` (where spec files are).
pub fn peerctl(cloud: &dyn Cloud, dir: &Path, args: &[&str]) -> Output {
    let bin = peerctl_bin();
    assert!(bin.exists(), "{} is missing: build it first (`cargo build -p peerctl`, done by `./just test`)", bin.display());
    let mut command = Command::new(bin);
    command.args(args).current_dir(dir).env_remove("RUST_LOG").env("NO_COLOR", "1").stdin(Stdio::null());
    for (key, value) in cloud.env() {
        command.env(key, value);
    }
    command.output().unwrap_or_else(|e| panic!("cannot run peerctl: {e}"))
}
