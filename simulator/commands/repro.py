"""``fleetsim repro``: one device's inconsistency as a minimal, standalone script scenario.

Reads the run's history (``RUN_DIR/events.jsonl.gz``) and scenario (``report.json`` names it),
turns the device's operations into a ``[[script]]`` scenario and shrinks it by delta debugging
with the in-process player as the oracle (:mod:`simulator.lab.repro`); ``fleetsim replay``
plays the result against the emulator, ``fleetsim serve`` or AWS.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from simulator.core.errors import UsageError
from simulator.engine.scenario import Scenario, load_scenario
from simulator.lab.explain import explain
from simulator.lab.history import device_history, events_path
from simulator.lab.repro import reproduce
from simulator.lab.script import dump_script

__all__ = ["register", "repro"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "repro",
        help="shrink one device's $package inconsistency to a minimal script scenario",
        description=(
            "Turn DEVICE's history in RUN_DIR/events.jsonl.gz into a standalone script "
            "scenario (one thing, the run's catalog, a timed [[script]] of its operations) "
            "and shrink it by delta debugging until no operation can be removed, and no two "
            "merged, without losing the inconsistency's cause; replay it with fleetsim replay."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--device", required=True, metavar="NAME", help="the device to reproduce")
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="PATH",
        help="the run's scenario (default: the path RUN_DIR/report.json names)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("repro.toml"), help="where to write (repro.toml)"
    )
    parser.set_defaults(handler=repro)


def repro(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    path = events_path(run_dir)
    scenario = _scenario(run_dir, args.scenario)
    history = device_history(path, args.device)
    explanation = explain(history)
    result = reproduce(history, explanation, scenario)
    try:
        args.output.write_text(dump_script(result.script))
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    steps = result.script.steps
    print(
        f"{args.output}: {len(steps)} operations (of {len(result.full.steps)}, "
        f"{result.plays} plays) reproduce {explanation.cause} ({explanation.anomaly}) in process"
    )
    for step in steps:
        print(f"  {step.at:9.3f} s  {step.actor:<12} {step.action}")
    print(f"  -> {result.outcome.summary()}")
    return 0


def _scenario(run_dir: Path, given: Path | None) -> Scenario:
    if given is not None:
        return load_scenario(given)
    report = run_dir / "report.json"
    try:
        named = orjson.loads(report.read_bytes()).get("scenario")
    except (OSError, ValueError, AttributeError):
        raise UsageError(
            f"{report}: not readable; give the run's scenario with --scenario"
        ) from None
    path = Path(str(named))
    if not path.is_file():
        raise UsageError(f"the run's scenario {path} is not here; give it with --scenario")
    return load_scenario(path)
