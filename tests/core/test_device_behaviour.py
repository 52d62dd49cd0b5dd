"""The virtual device's behaviour: refusals, failures per step kind, presigned URL expiry,
reboots with rollback, lossy transports and misbehaving peers (see ``device_support``).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from simulator.core.device import DeviceState, StepKind
from tests.core.device_support import (
    INSTALL,
    START,
    Peer,
    device,
    execution,
    online,
    profile,
    running,
    step,
)

S = DeviceState


# -- refusals and failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"operation": "reboot"}, "expected version and steps"),
        ({"version": "1.0", "steps": [step("install", "i.sh", "agent")]}, "package, version"),
        ("text", "not a JSON object"),
    ],
)
def test_a_document_the_device_cannot_run_is_rejected_with_the_reason(
    document: Any, reason: str
) -> None:
    peer = Peer()
    dev = device(peer)
    running(peer, dev, document)
    assert dev.state is S.REPORTING
    (topic, body) = peer.sent[-1]
    assert topic == "jobs/job-1/update"
    assert body["status"] == "REJECTED"
    assert reason in body["statusDetails"]["reason"]
    assert all(b["status"] != "IN_PROGRESS" for t, b in peer.sent if t.endswith("update"))
    peer.reply(dev)
    assert peer.sent[-1][0] == "jobs/start-next"


def test_the_reject_probability_refuses_runnable_jobs() -> None:
    peer = Peer()
    dev = device(peer, profile(reject_probability=1.0))
    running(peer, dev)
    assert peer.sent[-1][1]["status"] == "REJECTED"
    assert peer.sent[-1][1]["statusDetails"] == {"reason": "device policy refused the job"}
    assert dev.inventory == {"agent": "1.0.0"}


@pytest.mark.parametrize("kind", list(StepKind))
def test_a_failing_step_fails_the_execution_and_stops_the_job(kind: StepKind) -> None:
    peer = Peer()
    dev = device(peer, profile({kind: 1.0}), inventory={"agent": "1.0.0", "old": "1"})
    document = {
        "version": "1.0",
        "steps": [
            step("download", "download-file.sh", "https://b.s3.amazonaws.com/x"),
            step("verify", "verify.sh"),
            step("restart", "restart.sh"),
            step("uninstall", "remove.sh", "old"),
            step("install", "install-package.sh", "agent", "1.2.0"),
        ],
    }
    running(peer, dev, document)
    order = [StepKind.DOWNLOAD, StepKind.VERIFY, StepKind.OTHER, StepKind.UNINSTALL]
    for _ in range(order.index(kind) + 1 if kind in order else 5):
        peer.fire(dev)
    body = peer.sent[-1][1]
    assert body["status"] == "FAILED"
    failed = {"download": StepKind.DOWNLOAD, "verify": StepKind.VERIFY, "restart": StepKind.OTHER}
    name = next((n for n, k in failed.items() if k is kind), kind.value)
    assert body["statusDetails"]["reason"] == f"{name}: handler exited with status 1"
    # The failed step changed nothing, and no later step ran.
    assert dev.inventory.get("agent") == "1.0.0"
    assert ("old" in dev.inventory) == (kind is not StepKind.INSTALL)


def test_a_step_that_ignores_failure_lets_the_job_go_on() -> None:
    peer = Peer()
    dev = device(peer, profile({StepKind.OTHER: 1.0}))
    restart = step("restart", "restart.sh")
    restart["action"]["ignoreStepFailure"] = "true"
    running(peer, dev, {"version": "1.0", "steps": [restart, INSTALL["steps"][2]]})
    peer.fire(dev)
    peer.fire(dev)
    assert peer.sent[-1][1]["status"] == "SUCCEEDED"
    assert dev.inventory == {"agent": "1.2.0"}


def presigned(signed_at: str, expires: int) -> str:
    return (
        "https://b.s3.us-east-1.amazonaws.com/agent.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Date={signed_at}&X-Amz-Expires={expires}&X-Amz-Signature=abc"
    )


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (presigned("20251231T230000Z", 3600), "FAILED"),  # expired at START, used at START + 3
        (presigned("20251231T230000Z", 3604), "SUCCEEDED"),  # valid as the download starts
        (presigned("20260101T000000Z", 3600), "SUCCEEDED"),
        ("https://b.s3.amazonaws.com/agent.bin", "SUCCEEDED"),  # not presigned
        (presigned("2026010", 60), "SUCCEEDED"),  # unreadable: not treated as expired
    ],
)
def test_an_expired_presigned_url_fails_the_download(url: str, status: str) -> None:
    peer = Peer()
    dev = device(peer)
    running(peer, dev, {"version": "1.0", "steps": [step("download", "dl.sh", url)]})
    peer.fire(dev)  # the download lasts STEP_S: past the expiry in the second case
    body = peer.sent[-1][1]
    assert body["status"] == status
    if status == "FAILED":
        assert "HTTP 403" in body["statusDetails"]["reason"]


# -- reboots, lossy transports, misbehaving peers ------------------------------------------------


@pytest.mark.parametrize(
    ("rollback", "before", "after"),
    [
        (0.0, {"agent": "1.0.0"}, {"agent": "1.2.0"}),
        (1.0, {"agent": "1.0.0"}, {"agent": "1.0.0"}),
        (1.0, {}, {}),
    ],
)
def test_an_install_that_reboots_goes_offline_and_asks_again_after_the_boot(
    rollback: float, before: dict[str, str], after: dict[str, str]
) -> None:
    peer = Peer()
    dev = device(
        peer, profile(reboot_probability=1.0, rollback_probability=rollback), inventory=dict(before)
    )
    running(peer, dev)
    peer.take()
    for _ in range(3):
        peer.fire(dev)
    assert dev.state is S.OFFLINE
    assert dev.inventory == {"agent": "1.2.0"}
    # No terminal update: the device went down mid-install.
    assert {b["status"] for _, b in peer.take()} == {"IN_PROGRESS"}
    assert peer.timers[-1][0] == peer.t + 60.0
    peer.say(dev, "jobs/notify-next", execution())  # nobody listens while it boots
    assert peer.sent == []
    peer.fire(dev)
    assert dev.state is S.REQUESTING
    assert peer.take() == [("jobs/start-next", {"clientToken": "dev-1:5"})]
    assert dev.inventory == after
    assert peer.changed == ["agent"] * (1 if rollback == 0.0 else 2)


def test_over_a_lossy_transport_unanswered_requests_are_sent_again() -> None:
    peer = Peer(lossless=False)
    dev = device(peer, profile(response_timeout_s=10.0))
    online(peer, dev)
    assert peer.timers[-1] == (START + 13.0, 2)
    peer.fire(dev)  # no answer to start-next
    assert [t for t, _ in peer.sent] == ["jobs/start-next", "jobs/start-next"]
    peer.reply(dev, execution())
    for _ in range(3):
        peer.fire(dev)
    terminal = peer.sent[-1][1]
    peer.fire(dev)  # no answer to the terminal update
    again = peer.sent[-1][1]
    assert again["status"] == terminal["status"] == "SUCCEEDED"
    assert again["clientToken"] != terminal["clientToken"]
    assert dev.state is S.REPORTING


def test_a_late_answer_to_an_in_progress_update_is_not_taken_for_the_terminal_answer() -> None:
    peer = Peer()
    dev = device(peer, profile(report_steps=True))
    running(peer, dev, {"version": "1.0", "steps": [INSTALL["steps"][2]]})
    in_progress_token = peer.sent[-1][1]["clientToken"]
    peer.fire(dev)
    assert dev.state is S.REPORTING
    stale = {"executionState": {"status": "IN_PROGRESS"}, "clientToken": in_progress_token}
    peer.say(dev, "jobs/job-1/update/accepted", stale)
    assert dev.state is S.REPORTING
    peer.reply(dev)
    assert dev.state is S.REQUESTING


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        (b"not json", S.IDLE),
        (b"[1, 2]", S.IDLE),
        (orjson.dumps({"execution": {"jobDocument": INSTALL}}), S.IDLE),  # no jobId
        (orjson.dumps({"execution": {"jobId": 7, "jobDocument": INSTALL}}), S.IDLE),
        (
            orjson.dumps(
                {"execution": {"jobId": "j", "executionNumber": "x", "jobDocument": INSTALL}}
            ),
            S.RUNNING,
        ),
        (
            orjson.dumps({"execution": {"jobId": "j", "executionNumber": [], "jobDocument": 5}}),
            S.REPORTING,
        ),
    ],
)
def test_malformed_start_next_answers_never_raise(payload: bytes, state: DeviceState) -> None:
    peer = Peer()
    dev = device(peer)
    online(peer, dev)
    peer.say(dev, "jobs/start-next/accepted", payload)
    assert dev.state is state
