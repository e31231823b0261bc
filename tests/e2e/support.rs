//! What every end-to-end test needs: a spec file on disk, peerctl's output.

use peerctl_e2e::{Cloud, peerctl};
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
