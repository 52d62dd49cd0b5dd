"""The conformance table: every operation boto3 has for the services fleetsim emulates.

One row per operation of botocore's ``iot``, ``iot-jobs-data`` and ``iot-data`` models, and one
per MQTT request topic the emulator answers or publishes: whether the emulator serves it, which
test files call it with a real client, and its known differences from AWS
(``differences.toml``, written by hand). ``README.md`` in this folder is the output of
``uv run --all-groups python -m tests.conformance.table``; ``test_conformance.py`` checks that it
is current, that every served operation is called by at least one test, and that the notes name
only real operations.

"Tested by" is found, not declared: a test file tests an operation when it calls it as a method
of a client (``iot.create_job(...)``) or asks for its paginator (``get_paginator("list_things")``).
Generic loops over every operation (the route and fuzz tests) do not count, so a row with no
test file is a row that no test exercises on its own.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

from simulator.api.http.routes import ROUTES

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
SERVICES = ("iot", "iot-jobs-data", "iot-data")
#: Test folders whose tests talk to a real server (HTTP with boto3, or MQTT through a broker);
#: the other folders call the services in process.
WIRE_FOLDERS = ("api", "broker", "fleet_mqtt", "lab", "locust", "bench")

#: Areas of the ``iot`` model that fleetsim emulates, by the first pattern that matches the
#: operation name. An operation of these areas that is not served is *missing*; anything else is
#: outside the product (Defender, fleet metrics, provisioning templates...).
_AREAS: tuple[tuple[str, str], ...] = (
    ("events", r"EventConfigurations$"),
    ("package catalog", r"Package|Sbom"),
    (
        "fleet indexing",
        r"^SearchIndex$|IndexingConfiguration|^(Describe|List)Ind|Statistics$"
        r"|Cardinality$|Percentiles$|BucketsAggregation$",
    ),
    ("jobs", r"Job"),
    (
        "registry",
        r"^(Create|Describe|Update|Delete|List)Things?$|ThingGroup|ThingToThingGroup"
        r"|ThingsInThingGroup|ThingGroupsForThing|^ListThingPrincipals|ThingType",
    ),
    ("security", r"Certificate|Polic|Principal|^DescribeEndpoint$"),
    ("tags", r"^(TagResource|UntagResource|ListTagsForResource)$"),
)

#: The MQTT topics the emulator answers (requests) or publishes (notifications); the needle is
#: a pattern that a test exercising the topic contains.
MQTT_TOPICS: tuple[tuple[str, str, str], ...] = (
    ("jobs", "$aws/things/{thing}/jobs/get", r"jobs/get\b"),
    ("jobs", "$aws/things/{thing}/jobs/start-next", r"jobs/start-next"),
    ("jobs", "$aws/things/{thing}/jobs/{jobId}/get", r"jobs/(?!start-next)[^/\"' ]+/get"),
    ("jobs", "$aws/things/{thing}/jobs/{jobId}/update", r"jobs/[^/\"' ]+/update"),
    ("jobs", "$aws/things/{thing}/jobs/notify", r"jobs/notify\b(?!-)"),
    ("jobs", "$aws/things/{thing}/jobs/notify-next", r"jobs/notify-next"),
    ("shadow", "$aws/things/{thing}/shadow[/name/{name}]/get", r"shadow(/name/[^/]+)?/get"),
    ("shadow", "$aws/things/{thing}/shadow[/name/{name}]/update", r"shadow(/name/[^/]+)?/update"),
    ("shadow", "$aws/things/{thing}/shadow[/name/{name}]/delete", r"shadow(/name/[^/]+)?/delete"),
    ("shadow", "$aws/things/{thing}/shadow[/name/{name}]/update/delta", r"/update/delta"),
    ("shadow", "$aws/things/{thing}/shadow[/name/{name}]/update/documents", r"/update/documents"),
    ("shadow", "$aws/things/{thing}/shadow/name/$package/...", r"name/\$package/"),
    ("events", "$aws/events/job/{jobId}/{completed,canceled,deleted}", r"\$aws/events/job/"),
    (
        "events",
        "$aws/events/jobExecution/{jobId}/{succeeded,failed,rejected,canceled,timed_out,"
        "removed,deleted}",
        r"\$aws/events/jobExecution/",
    ),
)


@dataclass(frozen=True, slots=True)
class Row:
    service: str
    operation: str
    area: str
    served: bool
    over_the_wire: tuple[str, ...]
    in_process: tuple[str, ...]
    differences: str


def area_of(service: str, operation: str) -> str:
    if service == "iot-data":
        return "shadow" if "Shadow" in operation else "data plane"
    if service == "iot-jobs-data":
        return "jobs data plane" if "Job" in operation else "commands"
    for area, pattern in _AREAS:
        if re.search(pattern, operation):
            return area
    return ""


def served() -> frozenset[tuple[str, str]]:
    return frozenset((route.service, route.operation) for route in ROUTES)


@cache
def model_operations() -> dict[str, tuple[str, ...]]:
    session = botocore.session.get_session()
    return {
        service: tuple(sorted(session.get_service_model(service).operation_names))
        for service in SERVICES
    }


def _test_files() -> Iterator[Path]:
    for path in sorted(TESTS.rglob("test_*.py")):
        if path.parent != HERE:
            yield path


def client_calls(source: str) -> set[str]:
    """Snake-case names a test module calls as client methods or asks paginators for."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr == "get_paginator" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
            else:
                names.add(func.attr)
    return names


@cache
def callers() -> dict[str, tuple[str, ...]]:
    """Snake-case operation name -> the test files (relative to the root) that call it."""
    found: dict[str, list[str]] = {}
    for path in _test_files():
        relative = path.relative_to(ROOT).as_posix()
        for name in client_calls(path.read_text(encoding="utf-8")):
            found.setdefault(name, []).append(relative)
    return {name: tuple(files) for name, files in found.items()}


def mqtt_callers(pattern: str) -> tuple[str, ...]:
    needle = re.compile(pattern)
    return tuple(
        path.relative_to(ROOT).as_posix()
        for path in _test_files()
        if needle.search(path.read_text(encoding="utf-8"))
    )


def differences() -> dict[str, str]:
    with (HERE / "differences.toml").open("rb") as file:
        data = tomllib.load(file)
    return {str(key): " ".join(str(value).split()) for key, value in data.items()}


def rows() -> list[Row]:
    serving = served()
    calls = callers()
    notes = differences()
    table: list[Row] = []
    for service, operations in model_operations().items():
        for operation in operations:
            is_served = (service, operation) in serving
            area = area_of(service, operation)
            tested = calls.get(xform_name(operation), ()) if is_served else ()
            wire = tuple(name for name in tested if _over_the_wire(name))
            local = tuple(name for name in tested if not _over_the_wire(name))
            note = notes.get(operation, "")
            table.append(Row(service, operation, area, is_served, wire, local, note))
    return table


def _over_the_wire(relative: str) -> bool:
    return relative.split("/")[1] in WIRE_FOLDERS


def _files(files: Iterable[str]) -> str:
    return ", ".join(f"`{name.removeprefix('tests/')}`" for name in files)


def render(table: list[Row], notes: Mapping[str, str]) -> str:
    emulated = [row for row in table if row.area]
    missing = [row for row in emulated if not row.served]
    outside = [row for row in table if not row.area and not row.served]
    lines = [
        "# Conformance: what the emulator serves, how it is tested, how it differs from AWS",
        "",
        "Generated by `uv run --all-groups python -m tests.conformance.table > "
        "tests/conformance/README.md` from botocore's service models (the operations),",
        "`simulator/api/http/routes.py` (what is served), the test files (which of them call the",
        "operation with a real boto3 client) and `tests/conformance/differences.toml` (the known",
        "differences, by hand). `tests/conformance/test_conformance.py` fails when this page is",
        "out of date or when a served operation is called by no test.",
        "",
        f"Served over HTTP: **{sum(row.served for row in table)}** operations. In the areas",
        f"fleetsim emulates, **{len(missing)}** operations of botocore's models are not served;",
        f"**{len(outside)}** more belong to parts of AWS IoT outside the product.",
        "",
        "## HTTP operations (boto3, the AWS CLI)",
        "",
        "*Over the wire*: test files that call the operation with a real boto3 client against a",
        "real server on a free port. *In process*: test files that call the service method of",
        "the same name directly (unit and property tests of the behaviour).",
        "",
        "| service | area | operation | served | tested over the wire | tested in process "
        "| known differences from AWS |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in emulated:
        served_text = "yes" if row.served else "**no**"
        lines.append(
            f"| {row.service} | {row.area} | {row.operation} | {served_text} | "
            f"{_files(row.over_the_wire)} | {_files(row.in_process)} | {row.differences} |"
        )
    lines += [
        "",
        "## MQTT topics (the Device SDK v2, any MQTT client through the broker)",
        "",
        "| area | topic | tested by | known differences from AWS |",
        "|---|---|---|---|",
    ]
    for area, topic, needle in MQTT_TOPICS:
        note = notes.get(topic, "")
        lines.append(f"| {area} | `{topic}` | {_files(mqtt_callers(needle))} | {note} |")
    lines += [
        "",
        "## Not emulated: the rest of botocore's `iot` model",
        "",
        "Outside the product (Defender, fleet metrics, provisioning templates, commands, ...):",
        "",
        ", ".join(row.operation for row in outside),
        "",
    ]
    return "\n".join(lines)


def page() -> str:
    return render(rows(), differences())


if __name__ == "__main__":
    print(page(), end="")
