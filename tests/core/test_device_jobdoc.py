"""The Device Client job-document schema a virtual device runs: steps, kinds and refusals,
presigned URL expiries, and the fleet's cache of plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.core.device import Device, DeviceState, JobPlan, PlanCache, Step, StepKind, plan_job
from tests.core.device_support import Peer, profile, running

JOBS = Path(__file__).parents[2] / "scenarios" / "jobs"


def handler(name: str, script: str, *args: str, **extra: Any) -> dict[str, Any]:
    action = {"name": name, "type": "runHandler", "input": {"handler": script, "args": list(args)}}
    return {"action": {**action, **extra}}


def doc(*steps: dict[str, Any], final: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"version": "1.0", "steps": list(steps)}
    if final is not None:
        out["finalStep"] = final
    return out


def test_the_device_client_install_sequence_reads_as_download_verify_install() -> None:
    plan = plan_job(
        doc(
            handler("download", "download-file.sh", "https://x/agent.bin", "/tmp/agent.bin"),
            handler("verify-signature", "verify-signature.sh", "/tmp/agent.bin", "c2ln"),
            handler("install", "install-package.sh", "agent", "1.2.0", "/tmp/agent.bin"),
        )
    )
    assert plan == JobPlan(
        (
            Step(StepKind.DOWNLOAD, "download", ("https://x/agent.bin", "/tmp/agent.bin")),
            Step(StepKind.VERIFY, "verify-signature", ("/tmp/agent.bin", "c2ln")),
            Step(StepKind.INSTALL, "install", ("agent", "1.2.0", "/tmp/agent.bin")),
        )
    )


@pytest.mark.parametrize(
    ("name", "script", "kind"),
    [
        ("fetch", "download-file.sh", StepKind.DOWNLOAD),
        ("Download artifact", "get.sh", StepKind.DOWNLOAD),
        ("check", "verify.sh", StepKind.VERIFY),
        ("check", "signature-check.sh", StepKind.VERIFY),
        ("setup", "install-package.sh", StepKind.INSTALL),
        ("Uninstall", "pkg.sh", StepKind.UNINSTALL),
        ("cleanup", "remove-packages.sh", StepKind.UNINSTALL),
        ("restart", "restart-services.sh", StepKind.OTHER),
        # "uninstall" contains "install": the uninstall reading must win.
        ("x", "uninstall-package.sh", StepKind.UNINSTALL),
    ],
)
def test_a_step_kind_is_read_from_its_name_or_handler(
    name: str, script: str, kind: StepKind
) -> None:
    plan = plan_job(doc(handler(name, script, "pkg", "1.0")))
    assert plan.rejected is None
    assert plan.steps[0].kind is kind


def test_run_command_splits_its_command_line_on_commas() -> None:
    step = {
        "action": {
            "name": "install",
            "type": "runCommand",
            "input": {"command": "install-package.sh,agent,2.0"},
        }
    }
    plan = plan_job(doc(step))
    assert plan.steps == (Step(StepKind.INSTALL, "install", ("agent", "2.0")),)


def test_the_final_step_runs_last_and_ignore_step_failure_is_read() -> None:
    plan = plan_job(
        doc(
            handler("restart", "restart.sh", ignoreStepFailure="true"),
            final=handler("report", "report.sh"),
        )
    )
    assert [s.name for s in plan.steps] == ["restart", "report"]
    assert plan.steps[0].ignore_failure
    assert not plan.steps[1].ignore_failure


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("not an object", "not a JSON object"),
        ([], "not a JSON object"),
        ({"steps": [handler("a", "a.sh")]}, "expected version and steps"),
        ({"version": "1.0"}, "expected version and steps"),
        ({"version": "1.0", "steps": []}, "expected version and steps"),
        ({"version": 1, "steps": [handler("a", "a.sh")]}, "expected version and steps"),
        (doc({"nothing": 1}), "steps[0]: missing action"),
        (doc({"action": {"type": "runHandler", "input": {}}}), "steps[0]: action.name"),
        (
            doc({"action": {"name": "a", "type": "runScript", "input": {}}}),
            "unsupported action type 'runScript'",
        ),
        (doc({"action": {"name": "a", "type": "runHandler", "input": {}}}), "input.handler"),
        (doc({"action": {"name": "a", "type": "runCommand", "input": {}}}), "input.command"),
        (doc(handler("a", "a.sh", 1)), "input.args must be a list of strings"),  # type: ignore[arg-type]
        (doc(handler("install", "install.sh", "agent")), "needs args [package, version]"),
        (doc(handler("uninstall", "remove.sh")), "needs args [package]"),
        (doc(handler("ok", "ok.sh"), final={"action": "x"}), "finalStep: missing action"),
        (doc(handler("ok", "ok.sh"), handler("", "b.sh")), "steps[1]: action.name"),
    ],
)
def test_documents_the_device_cannot_run_are_refused_with_the_reason(
    document: object, reason: str
) -> None:
    plan = plan_job(document)
    assert plan.steps == ()
    assert plan.rejected is not None
    assert reason in plan.rejected


@pytest.mark.parametrize(
    "name", ["install-package.json", "install-default.json", "uninstall-legacy.json"]
)
def test_the_shipped_job_documents_are_runnable(name: str) -> None:
    plan = plan_job(json.loads((JOBS / name).read_bytes()))
    assert plan.rejected is None
    assert plan.steps


def test_the_shipped_uninstall_document_removes_legacy_agent() -> None:
    plan = plan_job(json.loads((JOBS / "uninstall-legacy.json").read_bytes()))
    assert [s.kind for s in plan.steps] == [StepKind.OTHER, StepKind.UNINSTALL]
    assert plan.steps[1].args == ("legacy-agent",)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_action = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=10) | _json,
        "type": st.sampled_from(["runHandler", "runCommand", "x"]) | _json,
        "input": st.fixed_dictionaries(
            {},
            optional={
                "handler": st.text(max_size=12) | _json,
                "command": st.text(max_size=12) | _json,
                "args": st.lists(st.text(max_size=5), max_size=3) | _json,
            },
        )
        | _json,
        "ignoreStepFailure": st.sampled_from(["true", "false", True]) | _json,
    },
)
_document = st.fixed_dictionaries(
    {},
    optional={
        "version": st.just("1.0") | _json,
        "steps": st.lists(st.fixed_dictionaries({"action": _action}) | _json, max_size=3) | _json,
        "finalStep": st.fixed_dictionaries({"action": _action}) | _json,
    },
)


@given(_document | _json)
def test_any_json_gives_a_plan_or_a_reason_never_an_exception(document: object) -> None:
    plan = plan_job(document)
    assert (plan.rejected is None) == bool(plan.steps)
    for step in plan.steps:
        assert isinstance(step.kind, StepKind)
        assert all(isinstance(a, str) for a in step.args)
        if step.kind is StepKind.INSTALL:
            assert len(step.args) >= 2
        if step.kind is StepKind.UNINSTALL:
            assert step.args


# -- presigned URLs and the plan cache -----------------------------------------------------------


def presigned(signed_at: str, expires: str) -> str:
    return (
        "https://b.s3.amazonaws.com/a.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Date={signed_at}&X-Amz-Expires={expires}&X-Amz-Signature=abc"
    )


@pytest.mark.parametrize(
    ("url", "expires"),
    [
        (presigned("20260101T000000Z", "3600"), 1_767_225_600 + 3600),
        (presigned("20260101T000000Z", "60")[:-20], 1_767_225_600 + 60),  # Expires last
        ("https://b.s3.amazonaws.com/a.bin", None),  # not presigned
        (presigned("2026010", "60"), None),  # unreadable date
        (presigned("20261301T000000Z", "60"), None),  # no month 13
        (presigned("20260101T000000Z", "soon"), None),
    ],
)
def test_a_download_carries_the_expiry_of_its_presigned_url(url: str, expires: int | None) -> None:
    plan = plan_job(doc(handler("download", "dl.sh", url), handler("verify", "v.sh", url)))
    assert [step.expires for step in plan.steps] == [expires, None]  # only downloads expire


def test_the_plan_cache_reads_each_distinct_document_once_and_stays_bounded() -> None:
    cache = PlanCache(limit=2)
    first = cache.plan(json.loads(json.dumps(doc(handler("install", "i.sh", "agent", "1")))))
    again = cache.plan(json.loads(json.dumps(doc(handler("install", "i.sh", "agent", "1")))))
    assert again is first  # an equal document, parsed again: the same plan
    other = cache.plan(doc(handler("install", "i.sh", "agent", "2")))
    assert other is not first and other.steps[0].args == ("agent", "2")
    assert len(cache) == 2
    cache.plan(doc(handler("install", "i.sh", "agent", "3")))
    assert len(cache) == 1  # full: cleared whole
    assert cache.plan("text").rejected == "job document is not a JSON object"
    assert len(cache) == 1  # refused at once, not kept


def test_a_document_nested_deeper_than_orjson_writes_is_planned_uncached() -> None:
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    cache = PlanCache()
    plan = cache.plan({**doc(handler("other", "o.sh")), "extra": deep})
    assert plan.rejected is None and len(cache) == 0


def test_devices_of_one_profile_share_its_plans() -> None:
    prof = profile()
    for name in ("dev-1", "dev-2"):
        peer = Peer()
        dev = Device(0, name, {}, prof, peer)
        running(peer, dev)
        assert dev.state is DeviceState.RUNNING
    assert len(prof.plans) == 1
    assert len(profile().plans) == 0  # another fleet, another cache
