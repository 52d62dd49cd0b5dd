"""Which other things' topics a device's policies let it use: the least-privilege check.

A device "reaches" another thing when, after substitution for the device, its policies allow
``iot:Publish``, ``iot:Receive`` or ``iot:Subscribe`` on a topic (filter) under
``$aws/things/<other thing>/`` (typically ``topic/$aws/things/*/shadow/*`` written where
``${iot:Connection.Thing.ThingName}`` was meant). Each finding is a concrete topic the evaluator
allows (Deny statements included), so there are no false alarms; the candidates tried are the
other things' names the policy's patterns can match and, under each, the strings the pattern
itself suggests plus the usual Jobs and Shadow topics. A Deny that leaves only unusual topics
open could hide a finding: the search is not exhaustive.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Final

from simulator.core.policy.document import Context, Rule, evaluate
from simulator.core.policy.patterns import ANY, STAR, Pattern, derive

__all__ = ["Neighbours", "Reach", "reaches"]

THINGS_PREFIX: Final = "$aws/things/"
#: Suffixes tried under ``$aws/things/<thing>/`` besides those the pattern suggests.
_USUAL: Final = (
    "shadow/update",
    "shadow/get",
    "shadow/update/accepted",
    "shadow/name/fleetsim/update",
    "jobs/get",
    "jobs/start-next",
    "jobs/notify-next",
    "jobs/fleetsim-job/update",
)
_USUAL_FILTERS: Final = ("#", "shadow/#", "jobs/#", "+/#", *_USUAL)
_ACTIONS: Final = (
    ("iot:Publish", "topic", "publish to"),
    ("iot:Receive", "topic", "receive from"),
    ("iot:Subscribe", "topicfilter", "subscribe to"),
)


@dataclass(frozen=True, slots=True)
class Reach:
    """``thing`` may ``verb`` ``topic`` of ``other`` because of ``policy``."""

    policy: str
    thing: str
    verb: str
    topic: str
    other: str

    def __str__(self) -> str:
        return f"thing {self.thing} may {self.verb} {self.topic} (thing {self.other}'s topic)"


@dataclass
class Neighbours:
    """The things to check against, with a cache of which names a residual pattern matches."""

    things: Collection[str]
    _cache: dict[Pattern, tuple[str, ...]] = field(default_factory=dict)

    def matching(self, rest: Pattern, own: str) -> tuple[str, ...]:
        """Other things ``t`` with ``rest`` matching some ``t/...``."""
        head: list[str] = []
        for token in rest:
            if token == "/":
                name = "".join(head)
                return (name,) if name != own and name in self.things else ()
            if not isinstance(token, str):
                break
            head.append(token)
        else:
            return ()
        names = self._cache.get(rest)
        if names is None:
            names = tuple(t for t in sorted(self.things) if derive(rest, t + "/"))
            self._cache[rest] = names
        return tuple(n for n in names if n != own)


def _witnesses(rest: Pattern, name: str, topic_filter: bool) -> list[str]:
    out = list(_USUAL_FILTERS if topic_filter else _USUAL)
    for tail in derive(rest, name + "/"):
        for star, any_char in (("", "x"), ("x", "x")):
            out.append(
                "".join(star if t == STAR else any_char if t == ANY else str(t) for t in tail)
            )
    return out if topic_filter else [w for w in out if "+" not in w and "#" not in w]


def reaches(
    rules: Sequence[Rule], context: Context, neighbours: Neighbours, *, per_action: int = 1
) -> tuple[Reach, ...]:
    """Up to ``per_action`` findings per action for the device ``context`` describes (none when
    its policies do not let it connect with its client id)."""
    own = context.thing_name or ""
    found: list[Reach] = []
    if not evaluate(rules, "iot:Connect", context.arn("client", context.client_id)):
        return ()  # a device that may not connect uses no topics
    for action, kind, verb in _ACTIONS:
        prefix = context.arn(kind, THINGS_PREFIX)
        hits = 0
        for rule in rules:
            if rule.effect != "Allow" or rule.pattern is None or not rule.covers(action):
                continue
            for rest in derive(rule.pattern, prefix):
                for other in neighbours.matching(rest, own):
                    for suffix in _witnesses(rest, other, kind == "topicfilter"):
                        topic = f"{THINGS_PREFIX}{other}/{suffix}"
                        if evaluate(rules, action, context.arn(kind, topic)):
                            found.append(Reach(rule.policy, own, verb, topic, other))
                            hits += 1
                            break
                    if hits >= per_action:
                        break
                if hits >= per_action:
                    break
            if hits >= per_action:
                break
    return tuple(found)
