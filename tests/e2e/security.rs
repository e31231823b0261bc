//! Secrets never leave peerctl: not in stdout, stderr (at any verbosity), nor
//! in a saved plan.

use crate::support::{Workdir, run};
use peerctl_e2e::*;

const AWS_SECRET: &str = "SECRETawsKEYdoNotPrint0123456789abcdefXYZ";
const GCP_TOKEN: &str = "ya29.SECRETgcpTOKENdoNotPrint0123456789";

/// moto and the simulator, reached with recognisable fake secrets.
struct Secret<'a>(&'a Moto, &'a Sim);

impl Cloud for Secret<'_> {
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = (self.0, self.1).env();
        for (key, value) in &mut env {
            match *key {
                "AWS_SECRET_ACCESS_KEY" => *value = AWS_SECRET.into(),
                "GOOGLE_OAUTH_ACCESS_TOKEN" => *value = GCP_TOKEN.into(),
                _ => {}
            }
        }
        env
    }
}

#[tokio::test]
async fn no_secret_appears_in_any_output_at_any_verbosity_nor_in_a_saved_plan() {
    let moto = Moto::start().expect("moto");
    let ec2 = moto.ec2("us-east-1", None).await;
    create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await.expect("byoc");
    create_vpc(&ec2, "services", "10.20.0.0/16").await.expect("services");
    let sim = Sim::start(&[]).expect("simulator");
    sim.network("emqx-byoc", "emqxbyoc-xxxx-network", &["10.30.0.0/20"]).await.expect("byoc network");
    sim.network("services-project", "cloud-test-1", &["10.40.0.0/20"]).await.expect("services network");
    let dir = Workdir::new("secrets");
    dir.write(
        "spec.yaml",
        "version: 1
owner: team-a
aws: {region: us-east-1}
gcp: {project: emqx-byoc}
peerings:
  - name: byoc-aws
    aws:
      requester: {vpc: {name: emqxbyoc-1234-vpc}, security_groups: [{name: emqxbyoc-1234}]}
      accepter: {vpc: {name: services-vpc}, security_groups: [{name: services}]}
  - name: byoc-gcp
    gcp:
      network: emqxbyoc-xxxx-network
      peer_network: projects/services-project/global/networks/cloud-test-1
",
    );
    let cloud = Secret(&moto, &sim);
    let mut outputs = Vec::new();
    let planned = run(&cloud, &dir, &["plan", "-vvv", "--out", "plan.json", "spec.yaml"]).expect(0);
    outputs.push(("plan -vvv", planned.stdout + &planned.stderr));
    outputs.push(("plan.json", std::fs::read_to_string(dir.path.join("plan.json")).expect("plan file")));
    let applied = run(&cloud, &dir, &["apply", "-vvv", "plan.json"]).expect(0);
    assert!(applied.stderr.contains("DEBUG"), "-vvv shows debug logs, so the check below means something:\n{}", applied.stderr);
    outputs.push(("apply -vvv", applied.stdout + &applied.stderr));
    let drift = run(&cloud, &dir, &["drift", "-vvv", "--format", "json", "spec.yaml"]).expect(0);
    outputs.push(("drift -vvv", drift.stdout + &drift.stderr));
    for (what, text) in outputs {
        for secret in [AWS_SECRET, GCP_TOKEN, &GCP_TOKEN[6..20], &AWS_SECRET[..20]] {
            assert!(!text.contains(secret), "{what} shows a secret ({secret}):\n{text}");
        }
    }
}
