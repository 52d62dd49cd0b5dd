"""The operator's reading of Jobs event messages (:mod:`simulator.engine.jobevents`), pure parts.

The end-to-end path (a real broker, ``fleetsim serve`` and Locust) is
``tests/locust/test_follow_events.py``; here: any message is counted or set aside, never an
exception; a redelivered event counts once; the summary says when events are missing; the
operator's certificate is found in a ``--cert-dir``.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.core.errors import UsageError
from simulator.engine.jobevents import EventTally, operator_tls, topic_filters
from simulator.engine.mqtt.options import MqttOptions
from simulator.transport.mqtt import parse_broker_uri


def _event(kind: str, job: str, operation: str, status: str, n: int) -> tuple[str, bytes]:
    body = {"eventType": "JOB", "eventId": f"id-{n}", "status": status, "jobId": job}
    return f"$aws/events/{kind}/{job}/{operation}", orjson.dumps(body)


_levels = st.sampled_from(["$aws", "events", "job", "jobExecution", "j", "", "+"])


@given(
    topic=st.one_of(st.text(max_size=40), st.lists(_levels, max_size=7).map("/".join)),
    payload=st.one_of(
        st.binary(max_size=60),
        st.builds(
            orjson.dumps,
            st.dictionaries(
                st.sampled_from(["eventId", "status", "x"]),
                st.one_of(st.none(), st.integers(-9, 9), st.text(max_size=5), st.lists(st.none())),
            ),
        ),
        st.builds(orjson.dumps, st.lists(st.integers(-9, 9), max_size=3)),
    ),
)
def test_any_message_is_counted_or_set_aside(topic: str, payload: bytes) -> None:
    tally = EventTally()
    event = tally.receive(topic, payload, 1.0)
    assert tally.received == 1
    assert (event is None) == (tally.malformed + tally.duplicates == 1)
    if event is not None:
        assert topic == f"$aws/events/{event.kind}/{event.job_id}/{event.operation}"


def test_duplicates_count_once_and_the_summary_compares_with_describe_job() -> None:
    tally = EventTally()
    messages = [_event("jobExecution", "j1", "succeeded", "SUCCEEDED", n) for n in range(3)]
    messages.append(_event("jobExecution", "j1", "failed", "FAILED", 3))
    for topic, payload in [*messages, messages[0]]:  # QoS 1: the first one again
        tally.receive(topic, payload, 10.0)
    assert tally.duplicates == 1
    assert tally.peak_per_s() == 5
    assert tally.executions == {"j1": {"SUCCEEDED": 3, "FAILED": 1}}
    assert not tally.ended("j1")
    seen = {"j1": {"SUCCEEDED": 3, "FAILED": 2, "IN_PROGRESS": 0}}
    assert not tally.complete(seen)
    summary, notes = tally.summary(seen, {"j1": 8.0})
    assert summary["complete"] is False
    assert notes == [
        "events: j1: 4 execution events for 5 terminal executions (SUCCEEDED 3/3, FAILED 1/2); "
        "no job event - INCOMPLETE"
    ]
    tally.receive(*_event("jobExecution", "j1", "failed", "FAILED", 4), 11.0)
    tally.receive(*_event("job", "j1", "completed", "COMPLETED", 5), 12.5)
    assert tally.ended("j1") and tally.complete(seen)
    summary, notes = tally.summary(seen, {"j1": 8.0})
    assert summary["peak_per_s"] == 5  # 10.0 x 5, then 11.0 and 12.5 in other seconds
    assert summary["jobs"]["j1"]["job_events"] == {"completed": 4.5}
    assert notes[0].endswith("(SUCCEEDED 3/3, FAILED 2/2); job completed after 4.5 s")


def test_topic_filters_cover_both_kinds_of_each_job() -> None:
    assert topic_filters(["a", "b-x"]) == [
        "$aws/events/job/a/#",
        "$aws/events/jobExecution/a/#",
        "$aws/events/job/b-x/#",
        "$aws/events/jobExecution/b-x/#",
    ]


def _identity(directory: Path, name: str) -> tuple[Path, Path]:
    clients = directory / "clients"
    clients.mkdir(parents=True, exist_ok=True)
    cert, key = clients / f"{name}.pem", clients / f"{name}.key"
    cert.write_text("cert")
    key.write_text("key")
    return cert, key


def test_operator_certificate_from_the_cert_dir(tmp_path: Path) -> None:
    broker = parse_broker_uri("mqtts://127.0.0.1:8883")
    options = MqttOptions(broker=broker, control_plane="http://127.0.0.1:1", cert_dir=tmp_path)
    with pytest.raises(UsageError, match=r"fleetsim-operator\.pem and \.key"):
        operator_tls(options)
    emulator = _identity(tmp_path, "fleetsim-emulator")
    tls = operator_tls(options)
    assert tls is not None and (tls.cert_file, tls.key_file) == emulator
    own = _identity(tmp_path, "fleetsim-operator")
    tls = operator_tls(options)
    assert tls is not None and (tls.cert_file, tls.key_file) == own
    plain = MqttOptions(
        broker=parse_broker_uri("mqtt://127.0.0.1:1883"), control_plane="http://127.0.0.1:1"
    )
    assert operator_tls(plain) is None
