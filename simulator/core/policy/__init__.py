"""AWS IoT policies for the broker: parse, evaluate, translate to a Mosquitto ACL (pure, no IO).

:mod:`.document` parses a policy and evaluates a request as AWS does (with the behaviour notes
and what is not modelled); :mod:`.acl` turns a device's policies into the topics its broker ACL
may grant, never more than the policies allow; :mod:`.reach` finds policies that let a device
use another thing's topics. Errors: :class:`PolicyDocumentError` (a
:class:`~simulator.core.errors.UsageError`) for a document that cannot be read.
"""

from simulator.core.policy.acl import DeviceAcl, Note, to_filters, translate
from simulator.core.policy.document import (
    Context,
    Policy,
    PolicyDocumentError,
    Rule,
    Statement,
    compile_rules,
    evaluate,
    parse_policy,
)
from simulator.core.policy.reach import Neighbours, Reach, reaches

__all__ = [
    "Context",
    "DeviceAcl",
    "Neighbours",
    "Note",
    "Policy",
    "PolicyDocumentError",
    "Reach",
    "Rule",
    "Statement",
    "compile_rules",
    "evaluate",
    "parse_policy",
    "reaches",
    "to_filters",
    "translate",
]
