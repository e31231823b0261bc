"""moto's server, with two of its lookups made direct (bench only).

moto 5.2.5 (and 5.2.6, the newest) spends time in proportion to the whole
world on each object it returns, so a Describe of n objects takes n × world:

- it reads an object's tags with `describe_tags(filters={"resource-id": [id]})`,
  which matches every tag of the region against that id. The tags are kept in
  a dict keyed by resource id, and ids hold no wildcard, so looking them up
  there returns the same tags in the same order;
- it matches each filter value against each object as a pattern
  (`aws_api_matches`'s regular expressions, or `fnmatch` in `generic_filter`),
  so a filter of 200 ids costs 200 patterns per object. A value with no
  wildcard or other special character matches only itself, so when no value
  of a filter holds one, looking the object's value up in a set of them
  gives the same answer.

`peerctl-bench` starts moto through this file to plan one world two ways:
SIGUSR1 switches between these lookups and moto as published. Tests and the
demo run moto as published.

    python3 moto_direct_lookups.py -H 127.0.0.1 -p PORT
"""

import signal
import sys

import moto.core.utils
import moto.ec2.utils
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.server import main

PUBLISHED_TAGS = TaggedEC2Resource.get_tags
PUBLISHED_MATCHES = moto.core.utils.aws_api_matches
PUBLISHED_FILTER_MATCHING = moto.ec2.utils.is_filter_matching
PUBLISHED_RULE_GROUP_ID = SecurityGroupRule.filter_group_id
SPECIAL = set("\\*?.^$+[](){}|")
# The lookups in use; SIGUSR1 flips it. moto keeps some of these functions
# in its objects when it makes them, so each checks the flag itself.
direct = True


def get_tags(self):
    if not direct:
        return PUBLISHED_TAGS(self)
    if not self.id:
        return []
    tags = self.ec2_backend.tags.get(self.id, {})
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [{"resource_id": self.id, "key": k, "value": v, "resource_type": kind} for k, v in tags.items()]


def aws_api_matches(pattern, string):
    if direct and SPECIAL.isdisjoint(pattern):
        return pattern == str(string)
    return PUBLISHED_MATCHES(pattern, string)


# A filter's values as a set, or None when one holds a pattern; by the
# list's identity, as one request matches its list against every object.
plain_sets = {}


def plain(values):
    known = plain_sets.get(id(values))
    if known is not None and known[0] is values:
        return known[1]
    as_set = frozenset(values) if all(isinstance(v, str) and SPECIAL.isdisjoint(v) for v in values) else None
    if len(plain_sets) > 256:
        plain_sets.clear()
    plain_sets[id(values)] = (values, as_set)
    return as_set


def is_filter_matching(obj, name, values):
    if direct and isinstance(values, list) and (wanted := plain(values)) is not None:
        value = obj.get_filter_value(name)
        if isinstance(value, str):
            return value in wanted
    return PUBLISHED_FILTER_MATCHING(obj, name, values)


def filter_group_id(self, values):
    if direct and isinstance(values, list) and (wanted := plain(values)) is not None:
        return self.group_id in wanted
    return PUBLISHED_RULE_GROUP_ID(self, values)


def switch(_signum, _frame):
    global direct
    direct = not direct
    print("moto: " + ("lookups direct" if direct else "as published"), file=sys.stderr, flush=True)


TaggedEC2Resource.get_tags = get_tags
SecurityGroupRule.filter_group_id = filter_group_id
moto.ec2.utils.is_filter_matching = is_filter_matching
# Modules that imported the function by name hold their own reference.
for module in [m for name, m in sys.modules.items() if name.startswith("moto.")]:
    if getattr(module, "aws_api_matches", None) is PUBLISHED_MATCHES:
        module.aws_api_matches = aws_api_matches
signal.signal(signal.SIGUSR1, switch)
main(sys.argv[1:])
