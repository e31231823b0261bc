"""moto's server, with each EC2 object's tags looked up by its id (bench only).

moto 5.2.5 (and 5.2.6, the newest) reads an object's tags with
`describe_tags(filters={"resource-id": [id]})`, which matches every tag of the
region against that id: each object in a response costs as much as all the
region's tags, so a Describe of n objects takes n × tags. Its tags are already
kept in a dict keyed by resource id, and resource ids hold no wildcard, so
looking them up there returns the same tags in the same order.

`peerctl-bench` starts moto through this file to plan one world two ways:
SIGUSR1 switches between the lookup and moto as published. Tests and the demo
run moto as published.

    python3 moto_indexed_tags.py -H 127.0.0.1 -p PORT
"""

import signal
import sys

from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.server import main

PUBLISHED = TaggedEC2Resource.get_tags


def indexed_get_tags(self):
    if not self.id:
        return []
    tags = self.ec2_backend.tags.get(self.id, {})
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [{"resource_id": self.id, "key": k, "value": v, "resource_type": kind} for k, v in tags.items()]


def switch(_signum, _frame):
    indexed = TaggedEC2Resource.get_tags is indexed_get_tags
    TaggedEC2Resource.get_tags = PUBLISHED if indexed else indexed_get_tags
    print("moto: tags " + ("as published" if indexed else "indexed"), file=sys.stderr, flush=True)


TaggedEC2Resource.get_tags = indexed_get_tags
signal.signal(signal.SIGUSR1, switch)
main(sys.argv[1:])
