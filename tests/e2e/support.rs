//! What every end-to-end test needs: a spec file on disk, peerctl's output.

use peerctl_e2e::{Cloud, Sim, peerctl};
use std::path::PathBuf;
use std::process::Output;

/// A scratch directory holding a test's spec files; removed on drop.
pub struct Workdir {
    pub path: PathBuf,
}

impl Workdir {
    pub fn new(test: &str) -> Workdir {
        let path = std::env::temp_dir().join(format!("peerctl-e2e-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Workdir { path }
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path.join(name), text).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One peerctl run: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    /// The number of mutating AWS API calls `-v` reported.
    pub fn writes(&self) -> u64 {
        self.writes_to("aws")
    }

    /// The number of mutating API calls to `cloud` (`aws`, `gcp`) `-v` reported.
    pub fn writes_to(&self, cloud: &str) -> u64 {
        let prefix = format!("{cloud} api calls:");
        let line = self.stderr.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no call counts in:\n{}", self.stderr));
        let writes = line.split(" reads, ").nth(1).and_then(|rest| rest.split(' ').next()).and_then(|n| n.parse().ok());
        writes.unwrap_or_else(|| panic!("cannot read the write count in `{line}`"))
    }
}

pub fn run(cloud: &dyn Cloud, dir: &Workdir, args: &[&str]) -> Run {
    Run::from(peerctl(cloud, &dir.path, args))
}

/// The guide's GCP pair: the BYOC network and the user's network in another project.
pub const GCP_PAIR: &str = "version: 1
owner: team-a
gcp: {project: emqx-byoc}
peerings:
  - name: byoc-gcp
    gcp:
      network: emqxbyoc-xxxx-network
      peer_network: projects/services-project/global/networks/cloud-test-1
      allow: [{protocol: tcp, ports: all}]
";

/// A simulator (started with `args`) holding `GCP_PAIR`'s two networks.
pub async fn gcp_pair_world(args: &[&str]) -> Sim {
    let sim = Sim::start(args).expect("simulator");
    sim.network("emqx-byoc", "emqxbyoc-xxxx-network", &["10.10.0.0/20"]).await.expect("byoc network");
    sim.network("services-project", "cloud-test-1", &["10.20.0.0/20", "10.21.0.0/24"]).await.expect("services network");
    sim
}
