"""IoT policy documents: parse, substitute the policy variables, evaluate a request.

Behaviour notes (AWS IoT developer guide: "AWS IoT Core policies", "AWS IoT Core policy
actions", "Action resources", "AWS IoT Core policy variables", "Thing policy variables"):

* a document is ``{"Version", "Statement": [...]}``; each statement has ``Effect`` (``Allow`` or
  ``Deny``), ``Action`` and ``Resource`` (a string or a list of strings) and may have ``Sid`` and
  ``Condition``. ``NotAction``/``NotResource`` are IAM elements this translation does not model:
  refused with a clear error;
* a request is allowed when some Allow statement matches it and no Deny statement does (an
  explicit Deny wins; nothing matching means denied);
* ``*`` matches any characters (``/`` too) and ``?`` any one character, in actions (``iot:*``;
  action names compared case-insensitively, as IAM does) and in resource ARNs; ``+`` and ``#``
  are plain characters in a policy;
* resources: ``iot:Connect`` ``arn:aws:iot:REGION:ACCOUNT:client/CLIENT-ID``, ``iot:Publish``
  and ``iot:Receive`` ``...:topic/TOPIC``, ``iot:Subscribe`` ``...:topicfilter/FILTER`` (the
  filter exactly as the client sends it, ``+`` and ``#`` included);
* variables ``${iot:ClientId}``, ``${iot:Connection.Thing.ThingName}``,
  ``${iot:Certificate.Subject.CommonName}`` and ``${iot:Connection.Thing.IsAttached}``, and the
  IAM escapes ``${*}``, ``${?}``, ``${$}`` (literal ``*``, ``?``, ``$``), resolve to literal text.
  Thing variables resolve only when the thing is attached to the certificate and (non-exclusive
  association) the client id is the thing name; unresolved, the statement grants nothing ("will
  result in an access denied error"). Other variables (thing type, attributes) are not resolved
  here: an Allow naming one grants nothing and a Deny naming one is taken to deny whatever the
  variable could be (``*``): conservative, and reported.
* ``Condition``: only ``{"Bool": {"iot:Connection.Thing.IsAttached": "true"}}`` is understood
  (true: devices are evaluated for the things their certificate is attached to). Any other
  condition makes an Allow grant nothing and a Deny apply unconditionally, both reported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from simulator.core.errors import UsageError
from simulator.core.policy.patterns import ANY, STAR, Pattern, matches

__all__ = [
    "Context",
    "Policy",
    "PolicyDocumentError",
    "Rule",
    "Statement",
    "compile_rules",
    "evaluate",
    "parse_policy",
]

Effect = Literal["Allow", "Deny"]
_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")
_KEYS: Final = frozenset({"Sid", "Effect", "Action", "Resource", "Condition"})


class PolicyDocumentError(UsageError):
    """A policy document this module cannot read (the CLI prints it as one line)."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement; ``condition`` is ``none``, ``attached`` (understood) or ``other``."""

    index: int
    effect: Effect
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Literal["none", "attached", "other"] = "none"


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class Context:
    """What the variables resolve to for one connection of one device."""

    thing_name: str | None
    client_id: str
    region: str
    account: str
    partition: str = "aws"
    common_name: str | None = None

    def arn(self, kind: str, name: str) -> str:
        return f"arn:{self.partition}:iot:{self.region}:{self.account}:{kind}/{name}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A statement's resource after substitution: ``pattern`` None grants/denies nothing."""

    policy: str
    statement: int
    effect: Effect
    actions: tuple[str, ...]
    resource: str
    pattern: Pattern | None
    note: str | None = None

    def covers(self, action: str) -> bool:
        return any(_action_regex(a).fullmatch(action) for a in self.actions)


@functools.lru_cache(maxsize=256)
def _action_regex(action: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in action)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def _strings(value: object, what: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise PolicyDocumentError(f"{where}: {what} must be a non-empty string or list of strings")


def _condition(value: object) -> Literal["none", "attached", "other"]:
    if value is None:
        return "none"
    if isinstance(value, dict) and list(value) == ["Bool"]:
        inner = value["Bool"]
        if isinstance(inner, dict) and list(inner) == ["iot:Connection.Thing.IsAttached"]:
            flag = inner["iot:Connection.Thing.IsAttached"]
            if flag in ("true", ["true"]):
                return "attached"
    return "other"


def parse_policy(name: str, document: str | bytes) -> Policy:
    """Parse an IoT policy document.

    Raises:
        PolicyDocumentError: not JSON, or not the shape the module notes describe.
    """
    where = f"policy {name}"
    try:
        parsed: Any = orjson.loads(document)
    except orjson.JSONDecodeError:
        raise PolicyDocumentError(f"{where}: the document is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise PolicyDocumentError(f"{where}: the document must be a JSON object")
    raw = parsed.get("Statement")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise PolicyDocumentError(f"{where}: the document needs a non-empty Statement")
    statements = []
    for index, item in enumerate(raw):
        here = f"{where} statement {index}"
        if not isinstance(item, dict):
            raise PolicyDocumentError(f"{here}: a statement must be a JSON object")
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            raise PolicyDocumentError(f"{here}: {unknown[0]} is not supported")
        effect = item.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyDocumentError(f"{here}: Effect must be Allow or Deny")
        statements.append(
            Statement(
                index=index,
                effect=effect,
                actions=_strings(item.get("Action"), "Action", here),
                resources=_strings(item.get("Resource"), "Resource", here),
                condition=_condition(item.get("Condition")),
            )
        )
    return Policy(name, tuple(statements))


def _values(context: Context) -> dict[str, str | None]:
    attached = context.thing_name is not None
    return {
        "iot:ClientId": context.client_id,
        "iot:Connection.Thing.ThingName": context.thing_name,
        "iot:Connection.Thing.IsAttached": "true" if attached else "false",
        "iot:Certificate.Subject.CommonName": context.common_name,
    }


def _substitute(
    resource: str, values: dict[str, str | None], effect: Effect
) -> tuple[Pattern | None, str | None]:
    """(pattern, note): literal text for variables; see the module notes for the others."""
    out: list[str | int] = []
    note = None
    last = 0
    for found in _VARIABLE.finditer(resource):
        out.extend(_glob(resource[last : found.start()]))
        last = found.end()
        name = found.group(1)
        if name in ("*", "?", "$"):
            out.append(name)
            continue
        value = values.get(name)
        if value is not None:
            out.extend(value)
            continue
        if effect == "Allow" or name in values:
            # An Allow with an unresolved variable grants nothing; so does a Deny with a known
            # but unresolved thing variable (it cannot match a connection without a thing).
            return None, f"${{{name}}} does not resolve here: the statement grants nothing"
        out.append(STAR)
        note = f"${{{name}}} is not resolved by fleetsim: the Deny is taken as *"
    out.extend(_glob(resource[last:]))
    return tuple(out), note


def _glob(text: str) -> list[str | int]:
    return [STAR if c == "*" else ANY if c == "?" else c for c in text]


def compile_rules(policies: Sequence[Policy], context: Context) -> tuple[Rule, ...]:
    """Every (statement, resource) of ``policies`` substituted for ``context``."""
    values = _values(context)
    rules = []
    for policy in policies:
        for statement in policy.statements:
            for resource in statement.resources:
                pattern, note = _substitute(resource, values, statement.effect)
                if statement.condition == "other":
                    if statement.effect == "Allow":
                        pattern, note = None, "its Condition is not modelled: it grants nothing"
                    else:
                        note = "its Condition is not modelled: the Deny always applies"
                rules.append(
                    Rule(
                        policy.name,
                        statement.index,
                        statement.effect,
                        statement.actions,
                        resource,
                        pattern,
                        note,
                    )
                )
    return tuple(rules)


def evaluate(rules: Sequence[Rule], action: str, resource: str) -> bool:
    """Whether ``rules`` allow ``action`` on ``resource`` (an explicit Deny wins)."""
    allowed = False
    for rule in rules:
        if rule.pattern is None or not rule.covers(action) or not matches(rule.pattern, resource):
            continue
        if rule.effect == "Deny":
            return False
        allowed = True
    return allowed
