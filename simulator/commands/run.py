"""``fleetsim run``: play a scenario against the embedded emulator and write its report.

With ``--broker URI`` the devices run over a real MQTT broker instead of the in-process bus
(options and checks in :mod:`simulator.commands.run_mqtt`, the engine in
:mod:`simulator.engine.mqtt`); the report is the same.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.commands import run_mqtt
from simulator.core.errors import UsageError
from simulator.engine.progress import ProgressDisplay
from simulator.engine.run import run_scenario
from simulator.engine.scenario import load_scenario
from simulator.report import write_report

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="run a scenario: a virtual fleet through package rollouts, with a report",
        description=(
            "Run SCENARIO (TOML, see README 'Scenario files') against the embedded emulator "
            "(no broker, no AWS) and write DIR/report.json and DIR/report.html. With --broker, "
            "over a real MQTT broker and optionally an external control plane."
        ),
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO")
    parser.add_argument("--devices", type=int, help="override the fleet size")
    parser.add_argument("--seed", type=int, help="override the random seed")
    parser.add_argument(
        "--out", type=Path, default=Path("out"), metavar="DIR", help="report directory (./out)"
    )
    parser.add_argument("--quiet", action="store_true", help="no live progress")
    parser.add_argument(
        "--no-event-log", action="store_true", help="do not write DIR/events.jsonl.gz"
    )
    run_mqtt.add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    mqtt = run_mqtt.mqtt_options(args)
    scenario = load_scenario(args.scenario)
    if args.devices is not None:
        scenario = scenario.with_devices(args.devices)
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {args.out}: {exc.strerror}") from None
    real_clock = mqtt is not None or scenario.run.clock == "real"
    display = (
        None
        if args.quiet
        else ProgressDisplay(scenario.name, scenario.fleet.devices, real_clock=real_clock)
    )
    try:
        progress = None if display is None else display.update
        event_log = None if args.no_event_log else args.out / "events.jsonl.gz"
        result = run_scenario(scenario, mqtt, progress=progress, event_log=event_log)
    finally:
        if display is not None:
            display.close()
    json_path, html_path = write_report(result, args.out)
    if not args.quiet:
        print(f"report: {json_path} and {html_path}", file=sys.stderr)
    return 130 if result.interrupted else 0
