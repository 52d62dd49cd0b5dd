"""``fleetsim replay``: play a script scenario with real clients and say whether it reproduced.

Exit 0 when the anomaly reproduced (in at least one of the ``--repeat`` plays), 1 when it did
not, 2 on bad input (one line on stderr, before anything is played).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from simulator.commands import argtypes
from simulator.core.errors import UsageError
from simulator.lab.replay import Outcome, open_target, play_on
from simulator.lab.replay_remote import parse_target
from simulator.lab.script import load_script

__all__ = ["register", "replay"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="play a [[script]] scenario against a control plane; did the anomaly reproduce?",
        description=(
            "Play SCRIPT's operations in order with real clients (boto3 over SigV4 HTTP; with "
            "--broker, the device's own requests over MQTT) against the embedded emulator, a "
            "running `fleetsim serve`, or AWS IoT (a temporary thing, removed afterwards), then "
            "compare $package with what the device runs. Exit 0: reproduced; 1: not; 2: bad "
            "input."
        ),
    )
    parser.add_argument("script", type=Path, metavar="SCRIPT")
    parser.add_argument(
        "--target",
        default="embedded",
        metavar="T",
        help="embedded (default: `fleetsim serve` in this process), http://HOST:PORT (a "
        "running `fleetsim serve`), aws, or inprocess (the emulator's services called "
        "directly: the shrinker's oracle)",
    )
    parser.add_argument(
        "--broker",
        metavar="URI",
        help="send the device's requests over MQTT through this broker (mqtt://HOST:PORT); "
        "the target must serve MQTT there (embedded does; `fleetsim serve --mqtt URI`)",
    )
    parser.add_argument(
        "--repeat", type=argtypes.count, default=1, metavar="N", help="plays (default 1)"
    )
    parser.add_argument(
        "--speed",
        type=argtypes.positive("factor"),
        metavar="X",
        help="keep the script's gaps, divided by X (1: real time); default: no waiting beyond "
        "each answer",
    )
    parser.set_defaults(handler=replay)


def _line(index: int, repeat: int, outcome: Outcome) -> str:
    verdict = "reproduced" if outcome.reproduced else "not reproduced"
    prefix = f"play {index}/{repeat}: " if repeat > 1 else ""
    return f"{prefix}{verdict}: {outcome.summary()}"


def replay(args: argparse.Namespace) -> int:
    script = load_script(args.script)
    target = parse_target(args.target)
    if args.broker is not None:
        from simulator.transport.mqtt import parse_broker_uri  # noqa: PLC0415

        parse_broker_uri(args.broker)
        if target == "inprocess":
            raise UsageError("--broker needs a real target: embedded, http://HOST:PORT or aws")
    reproduced = 0
    cause = ""
    with open_target(target, broker=args.broker, speed=args.speed) as (plane, device):
        for index in range(1, args.repeat + 1):
            outcome = play_on(script, plane, device=device)
            reproduced += outcome.reproduced
            cause = cause or (outcome.cause if outcome.reproduced else "")
            print(_line(index, args.repeat, outcome), flush=True)
    anomaly = script.expect or "an inconsistent $package"
    over = f" over MQTT via {args.broker}" if args.broker else ""
    print(
        f"fleetsim replay: {script.name}: {anomaly} reproduced {reproduced}/{args.repeat} "
        f"against {target}{over}"
    )
    return 0 if reproduced else 1
