//! `peerctl-demo-world MOTO_ENDPOINT SIM_BASE_URL`: builds the demo's
//! BYOC-like world, as the EMQX guide describes it.
//! - AWS (moto): the BYOC VPC (`emqxbyoc-1234-vpc`, 10.10.0.0/16) and the
//!   services VPC (`services-vpc`, 10.20.0.0/16, with a second range
//!   10.21.0.0/16), each with a private route table and a security group.
//! - GCP (the simulator): the BYOC network `emqxbyoc-xxxx-network`
//!   (10.30.0.0/20) in project `emqx-byoc-demo` and the user's network
//!   `cloud-test-1` (10.40.0.0/20) in project `user-project-demo`.

use peerctl_e2e::{Moto, Sim, create_vpc};

#[tokio::main]
async fn main() -> Result<(), peerctl_e2e::Error> {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(base_url)) = (args.next(), args.next()) else {
        return Err("usage: peerctl-demo-world http://127.0.0.1:MOTO_PORT http://127.0.0.1:SIM_PORT/compute/v1/".into());
    };
    let moto = Moto::attach(endpoint);
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await?;
    let services = create_vpc(&ec2, "services", "10.20.0.0/16").await?;
    ec2.associate_vpc_cidr_block().vpc_id(&services.id).cidr_block("10.21.0.0/16").send().await?;
    println!(
        "aws: created BYOC VPC {} (emqxbyoc-1234-vpc, 10.10.0.0/16) with route table {} and security group {}",
        byoc.id, byoc.route_table, byoc.security_group
    );
    println!(
        "aws: created services VPC {} (services-vpc, 10.20.0.0/16 + 10.21.0.0/16) with route table {} and security group {}",
        services.id, services.route_table, services.security_group
    );
    std::mem::forget(moto);

    let sim = Sim::attach(base_url);
    sim.network("emqx-byoc-demo", "emqxbyoc-xxxx-network", &["10.30.0.0/20"]).await?;
    sim.network("user-project-demo", "cloud-test-1", &["10.40.0.0/20"]).await?;
    println!("gcp: created network emqxbyoc-xxxx-network (10.30.0.0/20) in project emqx-byoc-demo");
    println!("gcp: created network cloud-test-1 (10.40.0.0/20) in project user-project-demo");
    Ok(())
}
