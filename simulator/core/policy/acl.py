"""A device's IoT policies as a Mosquitto ACL: sound (never more than the policies allow), and
exact where Mosquitto's ACL language can say it; every approximation becomes a :class:`Note`.

What Mosquitto's ``acl_file`` can and cannot express (Mosquitto 2.0, ``security_default.c``):

* ``topic write F`` gates PUBLISH, ``topic read F`` gates delivery of each message (and retained
  messages); ``topic deny F`` lines are checked first and refuse both. A SUBSCRIBE is never
  checked by the file ACL (``MOSQ_ACL_SUBSCRIBE`` always succeeds): a subscription the policy
  refuses gets a granted SUBACK, but delivers only what the read lines allow. So the read lines
  are the topics the policy lets the device receive (``iot:Receive``) *and* reach through a
  filter it may subscribe with (``iot:Subscribe``): the messages a device can get are the same,
  only the SUBACK of a refused subscription differs;
* ``iot:Connect`` cannot be enforced: a certificate the broker trusts connects with any client
  id. The ACL is computed for client id = thing name (what thing policy variables need); when
  the policy does not let the device connect so, it gets no topics at all;
* ``iot:RetainPublish`` cannot be told apart from ``iot:Publish`` (not modelled);
* a wildcard filter never matches a ``$`` topic in Mosquitto's ACL check, so a policy ``*`` in
  the first level is written twice: ``+``/``#`` and ``$aws`` (other ``$`` topics left out);
* ``*`` spanning several levels is written as one level (``+``) when it sits between levels, and
  exactly as ``+/#`` when it ends the resource after a ``/``; ``*`` or ``?`` inside a level
  (``dev-*``) cannot be written at all: that resource grants nothing;
* a Deny carved out of an Allow: written as ``topic deny`` lines when the Deny can be written
  exactly (these also refuse the other direction: Mosquitto's deny is for read and write), else
  the Allow filters it touches are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simulator.core.policy.document import Context, Policy, Rule, compile_rules, evaluate
from simulator.core.policy.patterns import (
    STAR,
    Pattern,
    derive,
    filter_intersection,
    filter_patterns,
    intersects,
)

__all__ = ["DeviceAcl", "Note", "to_filters", "translate"]


@dataclass(frozen=True, slots=True)
class Note:
    """An approximation or refusal, tied to the statement it comes from (not the device)."""

    policy: str
    statement: int
    resource: str
    text: str

    def __str__(self) -> str:
        return f"policy {self.policy} statement {self.statement} ({self.resource}): {self.text}"


@dataclass(frozen=True, slots=True)
class DeviceAcl:
    """One device's broker ACL: MQTT filters for ``topic write``/``read``/``deny`` lines.

    ``subscribe``: the filters the policy lets it subscribe with, as far as they were written.
    """

    connect: bool
    publish: tuple[str, ...]
    receive: tuple[str, ...]
    subscribe: tuple[str, ...]
    deny: tuple[str, ...]
    notes: tuple[Note, ...]


_INLEVEL = "`*` or `?` inside a topic level cannot be written in a Mosquitto ACL: not granted"
_SPAN = "a `*` between levels may span several; written as one level (+)"
_DOLLAR = "a leading `*` is written as wildcards and $aws (other $ topics are not granted)"
_UNWRITABLE = "white space or control characters cannot be written in the ACL file: not granted"


def _segments(pattern: Pattern) -> list[list[str | int]]:
    out: list[list[str | int]] = [[]]
    for token in pattern:
        if token == "/":
            out.append([])
        else:
            out[-1].append(token)
    return out


def to_filters(pattern: Pattern, *, subscribe: bool) -> tuple[tuple[str, ...], str | None]:
    """MQTT filters covering only strings ``pattern`` matches: (filters, why not all, or None).

    ``subscribe``: the strings are topic filters (``+``/``#`` literal in the policy are MQTT
    wildcards there); else topic names (which never contain ``+`` or ``#``).
    """
    segments = _segments(pattern)
    levels: list[str] = []
    reason = None
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if all(isinstance(t, str) for t in segment):
            text = "".join(str(t) for t in segment)
            if "+" in text or "#" in text:
                if subscribe and (text == "+" or (text == "#" and last)):
                    levels.append(text)
                    continue
                return (), None  # no topic name (or valid filter) has this level: exact
            levels.append(text)
        elif segment and all(t == STAR for t in segment):  # `**` is `*`
            if not last:
                levels.append("+")
                reason = _SPAN
            elif subscribe or not levels:
                levels.append("#")
            else:
                levels += ["+", "#"]
        else:
            return (), _INLEVEL
    filters = ["/".join(levels)]
    if segments[0] and all(t == STAR for t in segments[0]):
        filters.append("/".join(["$aws", *levels[1:]]) if len(levels) > 1 else "$aws/#")
        reason = reason or _DOLLAR
    if any(not c.isprintable() or (c.isspace()) for f in filters for c in f):
        return (), _UNWRITABLE
    return tuple(filters), reason


def _covered(filters: Iterable[str]) -> tuple[str, ...]:
    """Sorted, without duplicates or filters another one covers."""
    unique = sorted(set(filters))
    return tuple(
        f for f in unique if not any(o != f and filter_intersection(f, o) == f for o in unique)
    )


class _Translation:
    def __init__(self, rules: Sequence[Rule], context: Context) -> None:
        self.rules = rules
        self.context = context
        self.notes: list[Note] = [
            Note(r.policy, r.statement, r.resource, r.note) for r in rules if r.note
        ]
        self.deny: list[str] = []

    def note(self, rule: Rule, text: str) -> None:
        self.notes.append(Note(rule.policy, rule.statement, rule.resource, text))

    def residuals(self, action: str, effect: str, kind: str) -> list[tuple[Rule, Pattern]]:
        prefix = self.context.arn(kind, "")
        return [
            (rule, rest)
            for rule in self.rules
            if rule.effect == effect and rule.pattern is not None and rule.covers(action)
            for rest in derive(rule.pattern, prefix)
        ]

    def allowed(self, action: str, *, subscribe: bool) -> list[str]:
        kind = "topicfilter" if subscribe else "topic"
        out: list[str] = []
        for rule, rest in self.residuals(action, "Allow", kind):
            filters, reason = to_filters(rest, subscribe=subscribe)
            if reason is not None:
                self.note(rule, reason)
            out += filters
        return out

    def carve(self, action: str, filters: list[str]) -> list[str]:
        """``filters`` without what a Deny of ``action`` refuses (deny lines, or dropped)."""
        kept = []
        denies = self.residuals(action, "Deny", "topic")
        for mqtt_filter in filters:
            patterns = filter_patterns(mqtt_filter)
            keep = True
            for rule, rest in denies:
                if not any(intersects(p, rest) for p in patterns):
                    continue
                lines, reason = to_filters(rest, subscribe=False)
                if reason is None:
                    self.deny += lines
                    other = "iot:Receive" if action == "iot:Publish" else "iot:Publish"
                    if lines and not rule.covers(other):
                        self.note(rule, f"the deny lines also refuse {other} (Mosquitto)")
                else:
                    keep = False
                    self.note(rule, f"the Deny cannot be written exactly: {mqtt_filter} left out")
            if keep:
                kept.append(mqtt_filter)
        return kept

    def subscribable(self) -> list[str]:
        out = []
        for mqtt_filter in self.allowed("iot:Subscribe", subscribe=True):
            if evaluate(self.rules, "iot:Subscribe", self.context.arn("topicfilter", mqtt_filter)):
                out.append(mqtt_filter)  # a Deny names the filter string itself: exact
        return out


def translate(policies: Sequence[Policy], context: Context) -> DeviceAcl:
    """The ACL of one device (see the module notes for what is approximated)."""
    rules = compile_rules(policies, context)
    work = _Translation(rules, context)
    if not evaluate(rules, "iot:Connect", context.arn("client", context.client_id)):
        return DeviceAcl(False, (), (), (), (), tuple(dict.fromkeys(work.notes)))
    publish = work.carve("iot:Publish", work.allowed("iot:Publish", subscribe=False))
    receive = work.carve("iot:Receive", work.allowed("iot:Receive", subscribe=False))
    subscribe = _covered(work.subscribable())
    read = (filter_intersection(r, s) for r in _covered(receive) for s in subscribe)
    return DeviceAcl(
        connect=True,
        publish=_covered(publish),
        receive=_covered(f for f in read if f is not None),
        subscribe=subscribe,
        deny=_covered(work.deny),
        notes=tuple(dict.fromkeys(work.notes)),
    )
