//! `peerctl iam-policy` against moto's IAM enforcement: a user holding
//! exactly the printed policy can plan and apply the demo's AWS peering, and
//! without any one of its statements the run fails with a clear
//! "permission denied: ec2:…".
//!
//! moto checks each request's own action against the policy, with every EC2
//! resource seen as `*`: it evaluates neither resource ARNs nor these
//! conditions, nor the `ec2:CreateTags` that AWS also requires for tags set
//! at creation. So the policy under test has its resources widened to `*`,
//! and `PeerctlOwnershipTags` is only shown to be sufficient, not necessary
//! (that one is AWS's documented rule for tag-on-create).

use crate::support::{Workdir, run};
use peerctl_e2e::*;
use serde_json::Value;
use std::process::Command;

/// moto reached with an IAM user's keys.
struct AsUser<'a> {
    moto: &'a Moto,
    key: (String, String),
}

impl Cloud for AsUser<'_> {
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.moto.env();
        for (name, value) in &mut env {
            match *name {
                "AWS_ACCESS_KEY_ID" => *value = self.key.0.clone(),
                "AWS_SECRET_ACCESS_KEY" => *value = self.key.1.clone(),
                _ => {}
            }
        }
        env
    }
}

/// Runs boto3 against moto's IAM (authentication must be off): gives user
/// `peerctl` exactly `policy`; the first time, creates it and prints its keys.
fn put_user_policy(moto: &Moto, policy: &Value) -> String {
    const SCRIPT: &str = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
if not iam.list_users()["Users"]:
    iam.create_user(UserName="peerctl")
    key = iam.create_access_key(UserName="peerctl")["AccessKey"]
    print(key["AccessKeyId"], key["SecretAccessKey"])
iam.put_user_policy(UserName="peerctl", PolicyName="peerctl", PolicyDocument=sys.argv[2])
"#;
    let output = Command::new(python()).args(["-c", SCRIPT, &moto.endpoint, &policy.to_string()]).output().expect("python");
    assert!(output.status.success(), "boto3 failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Turns moto's IAM enforcement on (`true`) or off.
async fn enforce(moto: &Moto, on: bool) {
    let count = if on { "0" } else { "inf" };
    let response =
        reqwest::Client::new().post(format!("{}/moto-api/reset-auth", moto.endpoint)).body(count).send().await.expect("reset-auth");
    assert!(response.status().is_success(), "reset-auth: {}", response.status());
}

/// The demo's AWS peering, between two new VPCs named after `tag`.
async fn world(moto: &Moto, dir: &Workdir, tag: &str) -> String {
    let ec2 = moto.ec2("us-east-1", None).await;
    create_vpc(&ec2, &format!("byoc-{tag}"), "10.10.0.0/16").await.expect("byoc");
    create_vpc(&ec2, &format!("services-{tag}"), "10.20.0.0/16").await.expect("services");
    let spec = format!("{tag}.yaml");
    dir.write(
        &spec,
        &format!(
            "version: 1
owner: team-{tag}
aws: {{region: us-east-1}}
peerings:
  - name: byoc-to-services
    aws:
      requester: {{vpc: {{name: byoc-{tag}-vpc}}, route_tables: [{{name: byoc-{tag}-private-route-table}}], security_groups: [{{name: byoc-{tag}}}]}}
      accepter: {{vpc: {{name: services-{tag}-vpc}}, route_tables: all, security_groups: [{{name: services-{tag}}}]}}
      dns_resolution: true
"
        ),
    );
    spec
}

/// The printed policy with every resource widened to `*` (see above).
fn as_moto_sees_it(policy: &Value) -> Value {
    let mut policy = policy.clone();
    for statement in policy["Statement"].as_array_mut().expect("statements") {
        statement["Resource"] = Value::String("*".into());
    }
    policy
}

#[tokio::test]
async fn the_printed_policy_is_sufficient_and_each_statement_necessary() {
    let moto = Moto::start().expect("moto");
    let dir = Workdir::new("iam");
    let spec = world(&moto, &dir, "full").await;
    let printed = run(&(), &dir, &["iam-policy", &spec]).expect(0);
    let printed: Value = serde_json::from_str(&printed.stdout).expect("JSON");
    assert_eq!(printed["aws"].as_array().map(Vec::len), Some(1), "one set of credentials: {printed:#}");
    assert_eq!(printed["aws"][0]["regions"], serde_json::json!(["us-east-1"]));
    let policy = as_moto_sees_it(&printed["aws"][0]["policy"]);

    let keys = put_user_policy(&moto, &policy);
    let (id, secret) = keys.split_once(' ').expect("access key");
    let user = AsUser { moto: &moto, key: (id.to_string(), secret.to_string()) };
    enforce(&moto, true).await;
    // Enforced: the test's own keys are refused now.
    let refused = run(&moto, &dir, &["plan", &spec]).expect(1);
    assert!(refused.stderr.contains("permission denied: ec2:Describe"), "{}", refused.stderr);
    run(&user, &dir, &["apply", "--auto-approve", &spec]).expect(0);
    run(&user, &dir, &["plan", "--detailed-exitcode", &spec]).expect(0);

    let statements = policy["Statement"].as_array().expect("statements").clone();
    for (index, statement) in statements.iter().enumerate() {
        let sid = statement["Sid"].as_str().expect("Sid");
        if sid == "PeerctlOwnershipTags" {
            continue; // moto never asks for it (see above)
        }
        enforce(&moto, false).await;
        let spec = world(&moto, &dir, &format!("without-{}", index)).await;
        let mut fewer = policy.clone();
        fewer["Statement"].as_array_mut().expect("statements").remove(index);
        put_user_policy(&moto, &fewer);
        enforce(&moto, true).await;
        let failed = run(&user, &dir, &["apply", "--auto-approve", &spec]).expect(1);
        let actions: Vec<&str> = statement["Action"].as_array().expect("actions").iter().filter_map(Value::as_str).collect();
        assert!(
            actions.iter().any(|action| failed.stderr.contains(&format!("permission denied: {action}"))),
            "without {sid}, the run should fail naming one of {actions:?}:\n{}",
            failed.stderr
        );
        assert!(!failed.stderr.contains("panicked"), "{}", failed.stderr);
    }
    enforce(&moto, false).await;
}
