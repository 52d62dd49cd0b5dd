"""Scenario files: the shipped ones load and build, and every invalid one fails in one line that
names the field, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.core.errors import UsageError
from simulator.engine.scenario import load_scenario
from simulator.engine.world import World
from tests.engine.support import BASE, SHIPPED, edited, load, write_scenario

FEATURES = {
    "quickstart",
    "exponential-abort",
    "default-deployment",
    "null-uninstall",
    "continuous-dynamic-group",
}


def test_one_scenario_is_shipped_per_feature() -> None:
    assert {p.stem for p in SHIPPED} == FEATURES


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_loads_and_builds_its_world(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.spec.description
    assert scenario.jobs
    assert all(doc is not None for doc in scenario.documents)
    small = scenario.with_devices(30)
    world = World(small)  # checks every job document against its destinations
    assert len(world.devices) == 30
    assert world.job_errors == []


def test_the_defaults_of_a_minimal_scenario(tmp_path: Path) -> None:
    scenario = load(tmp_path, 'name = "empty"\n')
    assert scenario.fleet.devices == 1000
    assert scenario.run.clock == "simulated"
    assert scenario.jobs == []
    assert scenario.thing_name(42) == "device-000042"
    assert scenario.start_epoch == 1_767_225_600.0


def test_package_at_version_shorthand_becomes_a_package_version_arn(tmp_path: Path) -> None:
    arn = "arn:aws:iot:us-east-1:123456789012:package/tools/version/2.0"
    text = edited(
        ('document = "jobs/install-package.json"', 'document = "jobs/uninstall-legacy.json"'),
        (
            'destination_package_versions = ["agent@1.2.0"]',
            f'destination_package_versions = ["agent@$default", "legacy-agent@$null", "{arn}"]',
        ),
        extra=(
            '[[catalog.packages]]\nname = "legacy-agent"\n'
            '[[catalog.packages]]\nname = "tools"\n'
            '[[catalog.packages.versions]]\nname = "2.0"\n'
        ),
    )
    scenario = load(tmp_path, text)
    prefix = "arn:aws:iot:us-east-1:123456789012:package/"
    assert scenario.destinations == [
        [f"{prefix}agent/version/$default", f"{prefix}legacy-agent/version/$null", arn]
    ]


def test_overrides_replace_the_fleet_size_and_seed(tmp_path: Path) -> None:
    scenario = load(tmp_path).with_devices(7).with_seed(99)
    assert (scenario.fleet.devices, scenario.run.seed) == (7, 99)
    with pytest.raises(UsageError, match=r"^--devices must be at least 1$"):
        scenario.with_devices(0)
    with pytest.raises(UsageError, match=r"^--seed must be non-negative$"):
        scenario.with_seed(-1)


TARGETS = 'targets = ["group:fleet"]'
DEST = 'destination_package_versions = ["agent@1.2.0"]'
DOC = 'document = "jobs/install-package.json"'
PRESIGN = 'presigned_url = { roleArn = "arn:aws:iam::123456789012:role/JobsPresign" }'
SECOND_JOB = f'\n[[jobs]]\nid = "agent-1-2-0"\n{DOC}\n{DEST}\n{TARGETS}\n{PRESIGN}\n'

INVALID: list[tuple[str, str, str]] = [
    # (case, scenario text, what the one line must say)
    ("wrong type", edited(("devices = 20", 'devices = "many"')), "`$.fleet.devices`"),
    ("unknown field", edited(extra="[writer]\nname = 'x'\n"), "unknown field `writer`"),
    ("nested unknown", edited(("devices = 20", "devices = 20\ncolour = 1")), "`$.fleet`"),
    ("not TOML", "name = \n", "not valid TOML"),
    ("clock", edited(("seed = 1", 'seed = 1\nclock = "wall"')), "`$.run.clock`"),
    ("start", edited(("seed = 1", 'seed = 1\nstart = "soon"')), "$.run.start: not an ISO 8601"),
    ("seed", edited(("seed = 1", "seed = -3")), "$.run.seed: must be non-negative"),
    ("duration", edited(("max_duration_s = 3600", "max_duration_s = 0")), "$.run.max_duration_s"),
    ("devices", edited(("devices = 20", "devices = 0")), "$.fleet.devices: must be at least 1"),
    (
        "name format",
        edited(("devices = 20", 'devices = 20\nname_format = "dev"')),
        "$.fleet.name_format: use thing-name characters",
    ),
    (
        "bad distribution",
        edited(('connect = "uniform(0, 5)"', 'connect = "uniform(5, 0)"')),
        "$.fleet.connect: invalid parameters",
    ),
    (
        "bad step distribution",
        edited(('duration = "uniform(10, 30)"', 'duration = "gamma(2)"')),
        "$.device.steps.install.duration: cannot read 'gamma(2)'",
    ),
    (
        "unknown step kind",
        edited(extra="[device.steps.flash]\nduration = 1\n"),
        "$.device.steps.flash: unknown step kind",
    ),
    (
        "probability",
        edited(extra="[device]\nreject_probability = 1.5\n"),
        "$.device.reject_probability: must be a probability",
    ),
    (
        "step failure",
        edited(('duration = "uniform(10, 30)"', 'duration = "uniform(10, 30)"\nfailure = -0.1')),
        "$.device.steps.install.failure: must be a probability",
    ),
    (
        "group fraction",
        edited(extra='[[fleet.groups]]\nname = "canary"\nfraction = 2\n'),
        "$.fleet.groups[0].fraction: must be a probability",
    ),
    (
        "inventory weights",
        edited(('versions = { "1.0.0" = 1.0 }', 'versions = { "1.0.0" = nan }')),
        "$.fleet.inventory[0].versions",
    ),
    ("bad target", edited((TARGETS, 'targets = ["cluster:x"]')), "$.jobs[0].targets[0]: expected"),
    ("no targets", edited((TARGETS, "targets = []")), "$.jobs[0].targets: give at least one"),
    ("unknown group", edited((TARGETS, 'targets = ["group:nope"]')), "no group is named 'nope'"),
    (
        "static group as dynamic",
        edited((TARGETS, 'targets = ["dynamic:fleet"]')),
        "$.jobs[0].targets[0]: no dynamic group is named 'fleet'",
    ),
    (
        "unknown thing",
        edited((TARGETS, 'targets = ["group:fleet", "thing:device-000020"]')),
        "$.jobs[0].targets[1]: no device of the fleet is named 'device-000020'",
    ),
    ("duplicate job id", BASE + SECOND_JOB, "$.jobs[1].id: duplicate job id 'agent-1-2-0'"),
    (
        "unreadable document",
        edited((DOC, 'document = "jobs/missing.json"')),
        "$.jobs[0].document: cannot read",
    ),
    (
        "two documents",
        edited((DOC, DOC + "\ndocument_json = '{}'")),
        "$.jobs[0]: give either document or document_json",
    ),
    (
        "shorthand",
        edited((DEST, 'destination_package_versions = ["agent"]')),
        "$.jobs[0].destination_package_versions[0]: expected PACKAGE@VERSION",
    ),
    (
        "shorthand version",
        edited((DEST, 'destination_package_versions = ["agent@$latest"]')),
        "destination_package_versions[0]",
    ),
    (
        "rollout",
        edited((TARGETS, TARGETS + "\nrollout = { maximumPerMinute = 0 }")),
        "$.jobs[0].rollout: jobExecutionsRolloutConfig.maximumPerMinute",
    ),
    (
        "abort",
        edited((TARGETS, TARGETS + "\nabort = { criteriaList = [] }")),
        "$.jobs[0].abort: abortConfig.criteriaList",
    ),
    (
        "timeout",
        edited((TARGETS, TARGETS + "\ntimeout = { inProgressTimeoutInMinutes = 0 }")),
        "$.jobs[0].timeout: timeoutConfig.inProgressTimeoutInMinutes",
    ),
    (
        "retry",
        edited((TARGETS, TARGETS + '\nretry = { criteriaList = [{ failureType = "REJECTED" }] }')),
        "$.jobs[0].retry: jobExecutionsRetryConfig.criteriaList[0].failureType",
    ),
    (
        "presigned url",
        edited((PRESIGN, "presigned_url = { expiresInSec = 5 }")),
        "$.jobs[0].presigned_url: presignedUrlConfig.expiresInSec",
    ),
    (
        "writer rate",
        edited(extra='[[writers]]\nname = "w"\nrate_per_s = 0\n'),
        "$.writers[0].rate_per_s: must be positive",
    ),
    (
        "writer delay",
        edited(extra='[[writers]]\nname = "w"\nrate_per_s = 1\ndelay = "soon"\n'),
        "$.writers[0].delay: cannot read 'soon'",
    ),
    (
        "catalog",
        edited(('default_version = "1.0.0"', 'default_version = "3.0.0"')),
        "$.catalog.packages[0].default_version",
    ),
    (
        "duplicate group",
        edited(extra='[[fleet.groups]]\nname = "fleet"\nfraction = 0.5\n'),
        "$.fleet.groups[0].name: group 'fleet' is defined twice",
    ),
    (
        "group name",
        edited(extra='[[dynamic_groups]]\nname = "a b"\nquery = "thingName:x"\n'),
        "$.dynamic_groups[0].name: not a thing group name",
    ),
    (
        "health check odds",
        edited(extra="[device]\nrollback_after_success_probability = 2\n"),
        "$.device.rollback_after_success_probability: must be a probability",
    ),
    (
        "health check delay",
        edited(extra='[device]\nrollback_after_success_delay = "later"\n'),
        "$.device.rollback_after_success_delay: cannot read 'later'",
    ),
    (
        "health check",
        edited(extra='[device]\nhealth_check = "never"\n'),
        "health_check",
    ),
    (
        "jobs write delay",
        edited(extra="[emulator.jobs]\npackage_write_delay_s = -1\n"),
        "$.emulator.jobs.package_write_delay_s: must be non-negative",
    ),
    (
        "index delay",
        edited(extra="[emulator.index]\nupdate_delay_s = inf\n"),
        "$.emulator.index.update_delay_s: must be non-negative",
    ),
    (
        "emulator option",
        edited(extra="[emulator.jobs]\nnotify_limit = 3\n"),
        "notify_limit",
    ),
    (
        "fault kind",
        edited(extra='[[faults]]\ndrop = "cable"\nfor_s = 60\n'),
        "$.faults[0].drop: unknown fault 'cable'; use one of device, bridge-connection, broker",
    ),
    (
        "fault over a broker",
        edited(
            extra='[[faults]]\ndrop = "device"\nfor_s = 60\n'
            '[[faults]]\ndrop = "broker"\nfor_s = 9\n'
        ),
        "$.faults[1].drop: 'broker' needs a run over a broker",
    ),
    (
        "fault window",
        edited(extra='[[faults]]\ndrop = "device"\nfor_s = 0\n'),
        "$.faults[0].for_s: must be positive, got 0",
    ),
    (
        "fault start",
        edited(extra='[[faults]]\ndrop = "device"\nat_s = -5\nfor_s = 60\n'),
        "$.faults[0].at_s: must be non-negative",
    ),
    (
        "fault probability",
        edited(extra='[[faults]]\ndrop = "device"\nfor_s = 60\nprobability = 1.5\n'),
        "$.faults[0].probability: must be a probability between 0 and 1",
    ),
    (
        "fault redelivery",
        edited(extra='[[faults]]\ndrop = "device"\nfor_s = 60\nredelivery_s = "soon"\n'),
        "$.faults[0].redelivery_s: cannot read 'soon'",
    ),
    ("fault without window", edited(extra='[[faults]]\ndrop = "device"\n'), "for_s"),
    (
        "fault field",
        edited(extra='[[faults]]\ndrop = "device"\nfor_s = 60\nuntil_s = 9\n'),
        "`$.faults[0]`",
    ),
    (
        "version precondition",
        edited(extra='[device]\npackage_version_precondition = "yes"\n'),
        "`$.device.package_version_precondition`",
    ),
]


@pytest.mark.parametrize(("case", "text", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_an_invalid_scenario_fails_with_one_line_naming_the_field(
    tmp_path: Path, case: str, text: str, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        load(tmp_path, text)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_a_missing_scenario_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^cannot read scenario .*nope\.toml: No such file"):
        load_scenario(tmp_path / "nope.toml")


MISMATCHED: list[tuple[str, str, str]] = [
    ("unknown package", edited((DEST, 'destination_package_versions = ["ghost@1.0"]')), "ghost"),
    (
        "unknown version",
        edited((DEST, 'destination_package_versions = ["agent@9.9"]')),
        "version 9.9 does not exist",
    ),
    (
        "placeholder without destination",
        edited((DOC, 'document = "jobs/install-default.json"')),
        "does not match any element of destinationPackageVersions",
    ),
    ("presign without role", edited((PRESIGN, "")), "role ARN is required"),
    (
        "dynamic group query",
        edited(extra='[[dynamic_groups]]\nname = "bad"\nquery = "thingName:"\n'),
        "$.dynamic_groups[0].query: ",
    ),
]


@pytest.mark.parametrize(("case", "text", "message"), MISMATCHED, ids=[c[0] for c in MISMATCHED])
def test_a_job_whose_document_does_not_fit_its_destinations_fails_at_load(
    tmp_path: Path, case: str, text: str, message: str
) -> None:
    # CreateJob's own checks, run when the file is read rather than when the job is due.
    with pytest.raises(UsageError) as caught:
        load(tmp_path, text)
    assert message in caught.value.message
    if case != "dynamic group query":
        assert caught.value.message.startswith("$.jobs[0]: InvalidRequestException: ")


def test_documents_are_read_relative_to_the_scenario_file(tmp_path: Path) -> None:
    nested = tmp_path / "deep"
    nested.mkdir()
    path = write_scenario(nested)
    scenario = load_scenario(path)
    assert scenario.documents[0] == (nested / "jobs" / "install-package.json").read_bytes()
