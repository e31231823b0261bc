"""moto's server, with two of its lookups made direct (bench only).

moto 5.2.5 (and 5.2.6, the newest) spends time in proportion to the whole
world on each object it returns, so a Describe of n objects takes n × world:

- it reads an object's tags with `describe_tags(filters={"resource-id": [id]})`,
  which matches every tag of the region against that id. The tags are kept in
  a dict keyed by resource id, and ids hold no wildcard, so looking them up
  there returns the same tags in the same order;
- it matches each filter value against each object by turning the value into
  a regular expression (`aws_api_matches`), so a filter of 200 ids costs 200
  regular expressions per object. A value with no wildcard or other special
  character matches only itself, so comparing the two gives the same answer.

`peerctl-bench` starts moto through this file to plan one world two ways:
SIGUSR1 switches between these lookups and moto as published. Tests and the
demo run moto as published.

    python3 moto_direct_lookups.py -H 127.0.0.1 -p PORT
"""

import signal
import sys

import moto.core.utils
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.server import main

PUBLISHED_TAGS = TaggedEC2Resource.get_tags
PUBLISHED_MATCHES = moto.core.utils.aws_api_matches
SPECIAL = set("\\*?.^$+[](){}|")


def direct_get_tags(self):
    if not self.id:
        return []
    tags = self.ec2_backend.tags.get(self.id, {})
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [{"resource_id": self.id, "key": k, "value": v, "resource_type": kind} for k, v in tags.items()]


def direct_aws_api_matches(pattern, string):
    if SPECIAL.isdisjoint(pattern):
        return pattern == str(string)
    return PUBLISHED_MATCHES(pattern, string)


def use(get_tags, aws_api_matches):
    TaggedEC2Resource.get_tags = get_tags
    # Modules that imported the function by name hold their own reference.
    for module in [moto.core.utils] + [m for name, m in sys.modules.items() if name.startswith("moto.")]:
        if getattr(module, "aws_api_matches", None) in (PUBLISHED_MATCHES, direct_aws_api_matches):
            module.aws_api_matches = aws_api_matches


def switch(_signum, _frame):
    direct = TaggedEC2Resource.get_tags is direct_get_tags
    if direct:
        use(PUBLISHED_TAGS, PUBLISHED_MATCHES)
    else:
        use(direct_get_tags, direct_aws_api_matches)
    print("moto: " + ("as published" if direct else "lookups direct"), file=sys.stderr, flush=True)


use(direct_get_tags, direct_aws_api_matches)
signal.signal(signal.SIGUSR1, switch)
main(sys.argv[1:])
