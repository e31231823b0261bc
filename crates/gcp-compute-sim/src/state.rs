//! The simulated cloud: every project's resources, the operations in
//! flight and the counters, behind one mutex (`App`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use ipnet::IpNet;

use crate::config::Config;
use crate::operations::OpRecord;
use crate::stats::Stats;
use crate::util::SplitMix64;

/// Shared handle given to every request handler.
#[derive(Clone)]
pub struct App(Arc<Mutex<Sim>>);

impl App {
    pub fn new(config: Config) -> Self {
        App(Arc::new(Mutex::new(Sim::new(config))))
    }

    /// Locks the simulator and applies every operation that is due, so
    /// each request sees the world as of now.
    pub fn lock(&self) -> MutexGuard<'_, Sim> {
        // A handler that panicked cannot leave the maps half-updated in a way
        // worse than a crashed cloud, so keep serving.
        let mut sim = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sim.advance(Instant::now());
        sim
    }
}

/// Everything the simulator knows.
pub struct Sim {
    pub config: Config,
    pub projects: BTreeMap<String, Project>,
    /// Keyed by operation path (`projects/p/global/operations/NAME` or
    /// `projects/p/regions/r/operations/NAME`).
    pub operations: BTreeMap<String, OpRecord>,
    /// `(project, requestId)` → operation path, for idempotent retries.
    pub request_ids: HashMap<(String, String), String>,
    pub fault_rng: SplitMix64,
    pub id_rng: SplitMix64,
    pub stats: Stats,
    pub op_seq: u64,
}

/// One project's resources, all keyed by name (subnetworks by region and name).
#[derive(Default)]
pub struct Project {
    pub networks: BTreeMap<String, NetworkRecord>,
    pub subnetworks: BTreeMap<(String, String), SubnetworkRecord>,
    pub firewalls: BTreeMap<String, FirewallRecord>,
    pub routes: BTreeMap<String, RouteRecord>,
}

#[derive(Debug, Clone)]
pub struct NetworkRecord {
    pub name: String,
    pub id: u64,
    pub created: SystemTime,
    pub description: Option<String>,
    pub auto_mode: bool,
    pub mtu: i64,
    pub routing_mode: String,
    pub bgp_best_path_selection_mode: String,
    pub enforcement_order: String,
    pub peerings: Vec<PeeringRecord>,
}

/// A peering entry: the intent stored on one network. Its state is
/// computed on read from both sides.
#[derive(Debug, Clone)]
pub struct PeeringRecord {
    pub name: String,
    pub peer_project: String,
    pub peer_network: String,
    pub export_custom_routes: bool,
    pub import_custom_routes: bool,
    pub export_subnet_routes_with_public_ip: bool,
    pub import_subnet_routes_with_public_ip: bool,
    pub stack_type: String,
    /// The state last observed and since when, for `stateDetails`.
    pub last_active: bool,
    pub state_since: SystemTime,
}

#[derive(Debug, Clone)]
pub struct SubnetworkRecord {
    pub name: String,
    pub region: String,
    pub id: u64,
    pub created: SystemTime,
    pub description: Option<String>,
    pub network: String,
    pub ip_cidr_range: IpNet,
    pub secondary_ranges: Vec<(String, IpNet)>,
    pub private_ip_google_access: bool,
    pub stack_type: String,
    pub purpose: String,
    pub fingerprint: String,
    /// Created by an auto-mode network, and deleted with it.
    pub auto_created: bool,
}

#[derive(Debug, Clone)]
pub struct FirewallRecord {
    pub id: u64,
    pub created: SystemTime,
    pub spec: crate::firewalls::FirewallSpec,
}

#[derive(Debug, Clone)]
pub struct RouteRecord {
    pub id: u64,
    pub created: SystemTime,
    pub name: String,
    pub description: Option<String>,
    pub network: String,
    pub dest_range: String,
    pub priority: i64,
    /// `(field, value)`, e.g. `("nextHopGateway", "https://…/default-internet-gateway")`.
    pub next_hop: (String, String),
    pub tags: Vec<String>,
    /// Created by the simulator with the network (the default internet route).
    pub system: bool,
}

impl Sim {
    pub fn new(config: Config) -> Self {
        let seed = config.seed;
        Sim {
            config,
            projects: BTreeMap::new(),
            operations: BTreeMap::new(),
            request_ids: HashMap::new(),
            fault_rng: SplitMix64::new(seed),
            id_rng: SplitMix64::new(seed ^ 0x05EE_D1D5),
            stats: Stats::default(),
            op_seq: 0,
        }
    }

    /// Forgets every resource and operation; keeps the knobs.
    pub fn reset(&mut self) {
        *self = Sim::new(self.config.clone());
    }

    /// A fresh 19-digit resource id, as Compute's are.
    pub fn new_id(&mut self) -> u64 {
        1_000_000_000_000_000_000 + self.id_rng.next_u64() % 8_000_000_000_000_000_000
    }

    pub fn project(&self, project: &str) -> Option<&Project> {
        self.projects.get(project)
    }

    pub fn project_mut(&mut self, project: &str) -> &mut Project {
        self.projects.entry(project.to_string()).or_default()
    }

    pub fn network(&self, project: &str, name: &str) -> Option<&NetworkRecord> {
        self.project(project)?.networks.get(name)
    }

    pub fn network_mut(&mut self, project: &str, name: &str) -> Option<&mut NetworkRecord> {
        self.projects.get_mut(project)?.networks.get_mut(name)
    }

    /// The subnetworks of one network, in (region, name) order.
    pub fn subnetworks_of<'a>(&'a self, project: &str, network: &'a str) -> impl Iterator<Item = &'a SubnetworkRecord> + 'a {
        self.project(project).into_iter().flat_map(|p| p.subnetworks.values()).filter(move |s| s.network == network)
    }
}
