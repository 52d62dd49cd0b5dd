"""``fleetsim explain``: one device's ``$package`` inconsistency, from the run's history.

Prints the device's causal timeline (every ``$package`` read and write, inventory change and
execution transition, with its time and actor) and the verdict naming the operation that made
``$package`` wrong and the anomaly (see :mod:`simulator.lab.explain`). Bad input (no run
directory, no event log, a device without an inconsistency, an unknown cause) is one line and
exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from simulator.core.errors import UsageError
from simulator.engine.consistency import CAUSES
from simulator.lab.explain import Explanation, example_device, explain, timeline_text
from simulator.lab.history import device_history, events_path

__all__ = ["explain_run", "register"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "explain",
        help="tell what made one device's $package wrong in a run (its timeline and the anomaly)",
        description=(
            "Read RUN_DIR/events.jsonl.gz (the history fleetsim run writes) and explain one "
            "device's $package inconsistency: its timeline of $package reads and writes, "
            "installs and execution transitions, and the verdict naming the operation that "
            "made $package wrong and the anomaly (lost update, stale report, missed report, "
            "uninstall re-added, ...). Without --device or --cause: the first example device "
            "of RUN_DIR/report.json."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--device", metavar="NAME", help="the device (thing name) to explain")
    which.add_argument(
        "--cause",
        metavar="CAUSE",
        help=f"explain the first example device of this cause ({', '.join(CAUSES)})",
    )
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")
    parser.set_defaults(handler=explain_run)


def explain_run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    path = events_path(run_dir)
    device: str | None = args.device
    if device is None:
        device = example_device(_report(run_dir), args.cause)
    explanation = explain(device_history(path, device))
    if args.json:
        sys.stdout.buffer.write(
            orjson.dumps(
                explanation.as_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
            )
        )
    else:
        sys.stdout.write(_text(explanation))
    return 0


def _report(run_dir: Path) -> Any:
    path = run_dir / "report.json"
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"{run_dir} has no report.json: name the device with --device") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a readable report ({exc})") from None


def _text(e: Explanation) -> str:
    involved = {op.seq for op in e.involved}
    width = max(len(op.actor) for op in e.timeline)
    lines = [
        f"{e.device}: $package says {_pairs(e.says)}; the device runs {_pairs(e.runs)}",
        f"cause: {e.cause}    anomaly: {e.anomaly}",
        "",
        "timeline (> the operation that made $package wrong, * the others the verdict names):",
    ]
    for op in e.timeline:
        mark = ">" if op is e.culprit else "*" if op.seq in involved else " "
        lines.append(
            f"{mark} {op.t:10.3f} s  {op.actor:<{width}}  {op.kind:<6} {timeline_text(op)}"
        )
    lines += ["", f"verdict: {e.verdict}", ""]
    return "\n".join(lines)


def _pairs(versions: dict[str, Any]) -> str:
    if not versions:
        return "nothing"
    return ", ".join(
        f"{p} {v if v is not None else '(no version)'}" for p, v in sorted(versions.items())
    )
