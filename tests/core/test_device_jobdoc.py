"""The Device Client job-document schema a virtual device runs: steps, kinds and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.core.device import JobPlan, Step, StepKind, plan_job

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
