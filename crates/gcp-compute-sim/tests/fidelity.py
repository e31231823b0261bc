#!/usr/bin/env python3
"""Fidelity check of gcp-compute-sim with Google's official client.

Drives the simulator with google-cloud-compute (REST transport) through a
peering life cycle, and checks every raw JSON response against the Compute
v1 discovery schemas: every key must be a property of its schema, every
enum value one of the schema's, every type the schema's type.

usage: fidelity.py BASE_URL DISCOVERY_JSON
  BASE_URL        e.g. http://127.0.0.1:PORT/compute/v1/
  DISCOVERY_JSON  the discovery subset (tests/data/compute-v1-peering.discovery.json)

Exits non-zero with a message naming the first mismatch.
"""

import json
import re
import sys
import time
from urllib.parse import urlsplit

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.cloud import compute_v1
from google.oauth2.credentials import Credentials

PROJECT = "fidelity-project"


class Mismatch(Exception):
    pass


def fail(message):
    print(f"fidelity: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- schemas


class Schemas:
    def __init__(self, discovery):
        self.schemas = discovery["schemas"]
        self.methods = []
        for method_id, m in discovery["methods"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", m["path"]) + "$"
            response = m.get("response", {}).get("$ref")
            self.methods.append((m["httpMethod"], re.compile(pattern), response, method_id))

    def method_for(self, http_method, path):
        for verb, pattern, response, method_id in self.methods:
            if verb == http_method and pattern.match(path):
                return method_id, response
        return None, None

    def validate(self, value, schema, where):
        if "$ref" in schema:
            return self.validate(value, self.schemas[schema["$ref"]], where)
        kind = schema.get("type")
        if kind == "object":
            if not isinstance(value, dict):
                raise Mismatch(f"{where}: expected an object, got {value!r}")
            props = schema.get("properties")
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if props is not None and key in props:
                    self.validate(item, props[key], f"{where}.{key}")
                elif extra is not None:
                    self.validate(item, extra, f"{where}[{key!r}]")
                else:
                    raise Mismatch(f"{where}: key {key!r} is not in the schema (known: {sorted(props or {})})")
        elif kind == "array":
            if not isinstance(value, list):
                raise Mismatch(f"{where}: expected an array, got {value!r}")
            for i, item in enumerate(value):
                self.validate(item, schema["items"], f"{where}[{i}]")
        elif kind == "string":
            if not isinstance(value, str):
                raise Mismatch(f"{where}: expected a string, got {value!r}")
            if "enum" in schema and value not in schema["enum"]:
                raise Mismatch(f"{where}: {value!r} is not one of {schema['enum']}")
            if schema.get("format") in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
                raise Mismatch(f"{where}: {value!r} is not a {schema['format']} string")
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise Mismatch(f"{where}: expected an integer, got {value!r}")
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Mismatch(f"{where}: expected a number, got {value!r}")
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise Mismatch(f"{where}: expected a boolean, got {value!r}")
        elif kind == "any" or kind is None:
            pass
        else:
            raise Mismatch(f"{where}: unknown schema type {kind!r}")

    def validate_error(self, body, where):
        """Google's error envelope (not a discovery schema)."""
        if set(body) != {"error"}:
            raise Mismatch(f"{where}: error envelope has keys {sorted(body)}")
        error = body["error"]
        allowed = {"code", "message", "errors", "details", "status"}
        if not set(error) <= allowed or not {"code", "message", "errors"} <= set(error):
            raise Mismatch(f"{where}: error has keys {sorted(error)}")
        if not isinstance(error["code"], int) or not isinstance(error["message"], str):
            raise Mismatch(f"{where}: error code/message have wrong types")
        for item in error["errors"]:
            keys = set(item)
            if not {"message", "domain", "reason"} <= keys <= {"message", "domain", "reason", "location", "locationType"}:
                raise Mismatch(f"{where}: errors[] item has keys {sorted(keys)}")
        for detail in error.get("details", []):
            if detail.get("@type") == "type.googleapis.com/google.rpc.ErrorInfo":
                rest = {k: v for k, v in detail.items() if k != "@type"}
                self.validate(rest, self.schemas["ErrorInfo"], f"{where}.details")


# ---------------------------------------------------------------- capture


class Recorder:
    """Sees every raw response the clients receive and checks it at once."""

    def __init__(self, schemas, prefix):
        self.schemas = schemas
        self.prefix = prefix
        self.checked = 0
        self.methods_seen = set()
        self.failure = None

    def hook(self, response, *args, **kwargs):
        try:
            self.check(response)
        except Mismatch as e:
            # Raising inside a requests hook would be swallowed by the
            # client's error handling; remember it and fail after the call.
            self.failure = self.failure or str(e)
        return response

    def check(self, response):
        url = urlsplit(response.request.url)
        if not url.path.startswith(self.prefix):
            raise Mismatch(f"request to {url.path} is outside {self.prefix}")
        path = url.path[len(self.prefix):]
        method_id, schema = self.schemas.method_for(response.request.method, path)
        where = f"{response.request.method} {path} ({method_id}, HTTP {response.status_code})"
        if method_id is None:
            raise Mismatch(f"{where}: no discovery method has this path")
        try:
            body = response.json()
        except ValueError:
            raise Mismatch(f"{where}: response is not JSON: {response.text[:200]!r}")
        if response.status_code >= 400:
            self.schemas.validate_error(body, where)
        else:
            self.schemas.validate(body, {"$ref": schema}, where)
            self.methods_seen.add(method_id)
        self.checked += 1

    def raise_if_failed(self):
        if self.failure:
            raise Mismatch(self.failure)


# ---------------------------------------------------------------- scenario


class Cloud:
    def __init__(self, endpoint, recorder):
        options = ClientOptions(api_endpoint=endpoint)
        credentials = Credentials(token="any-token")
        make = lambda cls: cls(client_options=options, credentials=credentials, transport="rest")
        self.networks = make(compute_v1.NetworksClient)
        self.subnetworks = make(compute_v1.SubnetworksClient)
        self.firewalls = make(compute_v1.FirewallsClient)
        self.routes = make(compute_v1.RoutesClient)
        self.global_ops = make(compute_v1.GlobalOperationsClient)
        self.region_ops = make(compute_v1.RegionOperationsClient)
        self.recorder = recorder
        for client in (self.networks, self.subnetworks, self.firewalls, self.routes, self.global_ops, self.region_ops):
            client._transport._session.hooks["response"].append(recorder.hook)

    def wait(self, op, region=None):
        """Polls an operation to DONE with wait (long poll) and get."""
        deadline = time.time() + 60
        while op.status != compute_v1.Operation.Status.DONE:
            if time.time() > deadline:
                raise Mismatch(f"operation {op.name} never finished")
            if region:
                op = self.region_ops.wait(project=PROJECT, region=region, operation=op.name)
                op = self.region_ops.get(project=PROJECT, region=region, operation=op.name)
            else:
                op = self.global_ops.wait(project=PROJECT, operation=op.name)
                op = self.global_ops.get(project=PROJECT, operation=op.name)
        self.recorder.raise_if_failed()
        return op


def expect(condition, message):
    if not condition:
        raise Mismatch(message)


def succeed(cloud, op, region=None):
    op = cloud.wait(op, region)
    expect(not op.error.errors, f"operation {op.operation_type} failed: {op.error}")
    return op


def create_networks(cloud):
    for name in ("fid-a", "fid-b", "fid-c"):
        network = compute_v1.Network(name=name, auto_create_subnetworks=False, mtu=1460)
        succeed(cloud, cloud.networks.insert_unary(project=PROJECT, network_resource=network))
    subnets = [
        ("us-central1", "fid-a-sub", "fid-a", "10.10.0.0/24", []),
        ("europe-west1", "fid-b-sub", "fid-b", "10.20.0.0/24", [("pods", "10.21.0.0/16")]),
        ("us-central1", "fid-c-sub", "fid-c", "10.10.0.0/16", []),
    ]
    for region, name, network, cidr, secondary in subnets:
        subnet = compute_v1.Subnetwork(
            name=name,
            network=f"projects/{PROJECT}/global/networks/{network}",
            ip_cidr_range=cidr,
            secondary_ip_ranges=[compute_v1.SubnetworkSecondaryRange(range_name=n, ip_cidr_range=r) for n, r in secondary],
        )
        op = cloud.subnetworks.insert_unary(project=PROJECT, region=region, subnetwork_resource=subnet)
        expect(op.region.endswith(f"/regions/{region}"), f"subnetwork insert is not a region operation: {op.region!r}")
        succeed(cloud, op, region)


def add_peering(cloud, network, peer, name):
    peering = compute_v1.NetworkPeering(
        name=name,
        network=f"projects/{PROJECT}/global/networks/{peer}",
        exchange_subnet_routes=True,
        export_custom_routes=False,
        import_custom_routes=False,
        stack_type="IPV4_ONLY",
    )
    request = compute_v1.NetworksAddPeeringRequest(network_peering=peering)
    return cloud.networks.add_peering_unary(project=PROJECT, network=network, networks_add_peering_request_resource=request)


def peering_of(cloud, network, name):
    net = cloud.networks.get(project=PROJECT, network=network)
    found = [p for p in net.peerings if p.name == name]
    expect(found, f"network {network} has no peering {name}")
    return found[0]


def peer_both_ways(cloud):
    succeed(cloud, add_peering(cloud, "fid-a", "fid-b", "fid-ab"))
    expect(peering_of(cloud, "fid-a", "fid-ab").state == "INACTIVE", "a one-sided peering must be INACTIVE")
    succeed(cloud, add_peering(cloud, "fid-b", "fid-a", "fid-ab"))
    for network in ("fid-a", "fid-b"):
        p = peering_of(cloud, network, "fid-ab")
        expect(p.state == "ACTIVE", f"peering on {network} is {p.state}, want ACTIVE")
        expect(p.exchange_subnet_routes and p.export_subnet_routes_with_public_ip, "peering defaults are wrong")
        expect(p.stack_type == "IPV4_ONLY" and p.peer_mtu == 1460, "peering stack type / peer MTU are wrong")
    update = compute_v1.NetworksUpdatePeeringRequest(
        network_peering=compute_v1.NetworkPeering(name="fid-ab", export_custom_routes=True, import_custom_routes=True)
    )
    succeed(cloud, cloud.networks.update_peering_unary(project=PROJECT, network="fid-a", networks_update_peering_request_resource=update))
    p = peering_of(cloud, "fid-a", "fid-ab")
    expect(p.export_custom_routes and p.import_custom_routes, "updatePeering did not change the route flags")
    request = compute_v1.ListPeeringRoutesNetworksRequest(
        project=PROJECT, network="fid-a", peering_name="fid-ab", direction="INCOMING", region="europe-west1"
    )
    ranges = sorted(r.dest_range for r in cloud.networks.list_peering_routes(request=request))
    expect(ranges == ["10.20.0.0/24", "10.21.0.0/16"], f"incoming peering routes are {ranges}")


def overlap_fails_in_operation(cloud):
    op = add_peering(cloud, "fid-a", "fid-c", "fid-ac")
    expect(op.status != compute_v1.Operation.Status.DONE or op.error.errors, "overlap must not succeed")
    op = cloud.wait(op)
    expect(op.error.errors and "overlaps" in op.error.errors[0].message, f"overlap error missing: {op.error}")
    expect(op.http_error_status_code == 400, f"overlap httpErrorStatusCode is {op.http_error_status_code}")
    names = [p.name for p in cloud.networks.get(project=PROJECT, network="fid-a").peerings]
    expect("fid-ac" not in names, "a failed peering must not be added")


def firewalls(cloud):
    rule = compute_v1.Firewall(
        name="fid-allow-b",
        network=f"projects/{PROJECT}/global/networks/fid-a",
        allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=["22", "8000-9000"])],
        source_ranges=["10.20.0.0/24"],
        description="peerctl fidelity",
    )
    succeed(cloud, cloud.firewalls.insert_unary(project=PROJECT, firewall_resource=rule))
    listed = list(cloud.firewalls.list(request=compute_v1.ListFirewallsRequest(project=PROJECT, filter='name = "fid-allow-b"')))
    expect(len(listed) == 1, f"filtered firewall list has {len(listed)} items")
    got = listed[0]
    expect(got.priority == 1000 and got.direction == "INGRESS", "firewall defaults are wrong")
    patch = compute_v1.Firewall(source_ranges=["10.20.0.0/24", "10.21.0.0/16"])
    succeed(cloud, cloud.firewalls.patch_unary(project=PROJECT, firewall="fid-allow-b", firewall_resource=patch))
    got = cloud.firewalls.get(project=PROJECT, firewall="fid-allow-b")
    expect(list(got.source_ranges) == ["10.20.0.0/24", "10.21.0.0/16"], "firewall patch did not apply")
    expect(got.allowed[0].ports == ["22", "8000-9000"], "firewall patch lost the allowed rules")
    effective = cloud.networks.get_effective_firewalls(project=PROJECT, network="fid-a")
    expect(len(effective.firewalls) == 1, "getEffectiveFirewalls misses the rule")


def reads(cloud):
    list(cloud.networks.list(project=PROJECT))
    list(cloud.routes.list(project=PROJECT))
    list(cloud.subnetworks.list(project=PROJECT, region="us-central1"))
    scopes = dict(cloud.subnetworks.aggregated_list(project=PROJECT))
    expect(len(scopes["regions/europe-west1"].subnetworks) == 1, "aggregatedList misses europe-west1")
    expect(scopes["regions/asia-east1"].warning.code == "NO_RESULTS_ON_PAGE", "empty scope has no warning")
    route = compute_v1.Route(
        name="fid-route",
        network=f"projects/{PROJECT}/global/networks/fid-a",
        dest_range="192.168.50.0/24",
        next_hop_ip="10.10.0.5",
    )
    succeed(cloud, cloud.routes.insert_unary(project=PROJECT, route_resource=route))
    got = cloud.routes.get(project=PROJECT, route="fid-route")
    expect(got.priority == 1000, "route default priority is wrong")
    succeed(cloud, cloud.routes.delete_unary(project=PROJECT, route="fid-route"))
    try:
        cloud.networks.get(project=PROJECT, network="fid-missing")
        raise Mismatch("getting a missing network succeeded")
    except gexc.NotFound as e:
        expect("was not found" in e.message, f"404 message is {e.message!r}")


def remove_one_side(cloud):
    request = compute_v1.NetworksRemovePeeringRequest(name="fid-ab")
    succeed(cloud, cloud.networks.remove_peering_unary(project=PROJECT, network="fid-b", networks_remove_peering_request_resource=request))
    p = peering_of(cloud, "fid-a", "fid-ab")
    expect(p.state == "INACTIVE", f"after removing the other side the peering is {p.state}")
    expect("Waiting for peer network to connect" in p.state_details, f"stateDetails is {p.state_details!r}")


def clean_up(cloud):
    succeed(cloud, cloud.firewalls.delete_unary(project=PROJECT, firewall="fid-allow-b"))
    request = compute_v1.NetworksRemovePeeringRequest(name="fid-ab")
    succeed(cloud, cloud.networks.remove_peering_unary(project=PROJECT, network="fid-a", networks_remove_peering_request_resource=request))
    for region, name in (("us-central1", "fid-a-sub"), ("europe-west1", "fid-b-sub"), ("us-central1", "fid-c-sub")):
        succeed(cloud, cloud.subnetworks.delete_unary(project=PROJECT, region=region, subnetwork=name), region)
    for name in ("fid-a", "fid-b", "fid-c"):
        succeed(cloud, cloud.networks.delete_unary(project=PROJECT, network=name))
    expect(not list(cloud.networks.list(project=PROJECT)), "networks remain after clean-up")


def main():
    if len(sys.argv) != 3:
        fail(f"usage: {sys.argv[0]} BASE_URL DISCOVERY_JSON")
    base_url, discovery_path = sys.argv[1], sys.argv[2]
    with open(discovery_path) as f:
        schemas = Schemas(json.load(f))
    url = urlsplit(base_url)
    endpoint = f"{url.scheme}://{url.netloc}"
    recorder = Recorder(schemas, "/compute/v1/")
    cloud = Cloud(endpoint, recorder)
    steps = [create_networks, peer_both_ways, overlap_fails_in_operation, firewalls, reads, remove_one_side, clean_up]
    for step in steps:
        try:
            step(cloud)
            recorder.raise_if_failed()
        except Mismatch as e:
            fail(f"{step.__name__}: {e}")
        except gexc.GoogleAPICallError as e:
            if recorder.failure:
                fail(f"{step.__name__}: {recorder.failure}")
            fail(f"{step.__name__}: unexpected API error: {e}")
    print(
        f"fidelity: OK: {recorder.checked} responses from {len(recorder.methods_seen)} methods "
        f"match the discovery schemas: {', '.join(sorted(recorder.methods_seen))}"
    )


if __name__ == "__main__":
    main()
