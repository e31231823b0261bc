//! `peerctl-demo-world ENDPOINT`: builds the demo's BYOC-like world in a moto
//! server: the BYOC VPC (`emqxbyoc-1234-vpc`, 10.10.0.0/16) and the services
//! VPC (`services-vpc`, 10.20.0.0/16, with a second range 10.21.0.0/16), each
//! with a private route table and a security group, as in the EMQX guide.

use peerctl_e2e::{Moto, create_vpc};

#[tokio::main]
async fn main() -> Result<(), peerctl_e2e::Error> {
    let endpoint = std::env::args().nth(1).ok_or("usage: peerctl-demo-world http://127.0.0.1:PORT")?;
    let moto = Moto::attach(endpoint);
    let ec2 = moto.ec2("us-east-1", None).await;
    let byoc = create_vpc(&ec2, "emqxbyoc-1234", "10.10.0.0/16").await?;
    let services = create_vpc(&ec2, "services", "10.20.0.0/16").await?;
    ec2.associate_vpc_cidr_block().vpc_id(&services.id).cidr_block("10.21.0.0/16").send().await?;
    println!(
        "created BYOC VPC {} (emqxbyoc-1234-vpc, 10.10.0.0/16) with route table {} and security group {}",
        byoc.id, byoc.route_table, byoc.security_group
    );
    println!(
        "created services VPC {} (services-vpc, 10.20.0.0/16 + 10.21.0.0/16) with route table {} and security group {}",
        services.id, services.route_table, services.security_group
    );
    std::mem::forget(moto);
    Ok(())
}
