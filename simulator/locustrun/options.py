"""The fleetsim options of a Locust run, added to Locust's own command line.

The MQTT options are ``fleetsim run --broker``'s (the same names, meanings and checks:
:mod:`simulator.commands.run_mqtt`), plus ``--scenario``, ``--report-dir``,
``--poll-interval``, ``--job-suffix``, ``--stop-when-done`` and ``--follow-events``. Locust's
``-u`` is the fleet size and ``-r`` the connect rate; every other part of the test comes from
the scenario. Nothing here imports locust: the parser is handed in.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.commands import run_mqtt
from simulator.core.errors import UsageError
from simulator.engine.jobevents import operator_tls
from simulator.engine.mqtt.options import AWS_CONNECT_RATE, MqttOptions
from simulator.engine.scenario import Scenario, load_scenario

__all__ = ["LoadTestConfig", "add_arguments", "load_config", "portable"]

_PATHS = ("broker_ca", "cert_dir", "client_cert", "client_key")


def portable(options: Any) -> None:
    """Make Locust's parsed options sendable to workers (msgpack knows no ``Path``)."""
    for name in _PATHS:
        value = getattr(options, name, None)
        if isinstance(value, Path):
            setattr(options, name, str(value))


def add_arguments(parser: Any) -> None:
    """Add the fleetsim options to Locust's parser (``init_command_line_parser``)."""
    group = parser.add_argument_group(
        "fleetsim",
        "Devices and an operator from a fleetsim scenario (README: 'Load testing with Locust').",
    )
    group.add_argument(
        "--scenario",
        type=str,
        metavar="FILE",
        help="fleetsim scenario (TOML): inventory, catalog, jobs, device behaviour, writers",
    )
    group.add_argument(
        "--report-dir",
        type=str,
        default="out/locust",
        metavar="DIR",
        help="where report.json and report.html go at test stop (default out/locust)",
    )
    group.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between two DescribeJob rounds of the operator (default 5)",
    )
    group.add_argument(
        "--job-suffix",
        default="",
        metavar="TEXT",
        help="append TEXT to every job id of the scenario (job ids are unique per account: a "
        "re-run needs new ones); 'auto' appends -YYYYMMDD-HHMMSS of the test's start",
    )
    group.add_argument(
        "--stop-when-done",
        action="store_true",
        default=False,
        help="end the test once every job of the scenario has finished and run.settle_s has "
        "passed (as fleetsim run does), unless -t ends it first",
    )
    group.add_argument(
        "--follow-events",
        action="store_true",
        default=False,
        help="the operator enables JOB and JOB_EXECUTION events (restored at the end), follows "
        "its jobs on $aws/events/ over one MQTT connection (client id fleetsim-operator), "
        "counts them as EVENT requests, and polls DescribeJob 10 times less often",
    )
    run_mqtt.add_arguments(parser)


@dataclass(frozen=True, slots=True)
class LoadTestConfig:
    """A Locust run's fleetsim side, checked."""

    scenario: Scenario
    mqtt: MqttOptions
    report_dir: Path
    poll_s: float
    stop_when_done: bool = False
    job_suffix: str = ""
    follow_events: bool = False


def load_config(options: Any, *, distributed: bool) -> LoadTestConfig:
    """Check Locust's parsed options; one :class:`UsageError` line for anything wrong.

    Args:
        options: Locust's ``parsed_options``.
        distributed: the test runs on workers (``--processes``, ``--master``/``--worker``).
    """
    if not getattr(options, "scenario", None):
        raise UsageError(
            "--scenario FILE is required (a fleetsim scenario, e.g. scenarios/quickstart.toml)"
        )
    if getattr(options, "shard", None):
        raise UsageError("--shard is for fleetsim run: Locust splits the fleet over its workers")
    if getattr(options, "broker", None) is None:
        raise UsageError("--broker URI is required (mqtt://HOST:PORT or mqtts://HOST:PORT)")
    if not options.poll_interval > 0:
        raise UsageError(f"--poll-interval must be > 0, not {options.poll_interval}")
    namespace = argparse.Namespace(**vars(options))
    for name in _PATHS:  # strings after a trip to a worker (Locust sends options as msgpack)
        value = getattr(namespace, name, None)
        setattr(namespace, name, None if value is None else Path(value))
    mqtt = run_mqtt.mqtt_options(namespace)
    assert mqtt is not None
    if mqtt.kind == "embedded" and distributed:
        raise UsageError(
            "--control-plane embedded runs in one process: for --processes or master/worker "
            "runs start `fleetsim serve --mqtt` and pass its URL (or use aws)"
        )
    rate = float(getattr(options, "spawn_rate", 0) or 0)
    if mqtt.connect_rate is None:
        # Locust's -r paces the users, and so the CONNECTs; the pool only smooths bursts.
        ceiling = AWS_CONNECT_RATE if mqtt.kind == "aws" else max(rate, 1.0) * 2
        mqtt = dataclasses.replace(mqtt, connect_rate=ceiling)
    follow = bool(getattr(options, "follow_events", False))
    if follow:
        operator_tls(mqtt)  # the operator's certificate: refused now, not at the first job
    scenario = load_scenario(Path(options.scenario))
    return LoadTestConfig(
        scenario=scenario,
        mqtt=mqtt,
        report_dir=Path(options.report_dir),
        poll_s=float(options.poll_interval),
        stop_when_done=bool(getattr(options, "stop_when_done", False)),
        job_suffix=str(getattr(options, "job_suffix", "") or ""),
        follow_events=follow,
    )
