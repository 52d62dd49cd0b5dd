"""``fleetsim bench NAME [options]``: run one of the benchmarks of :mod:`simulator.bench`.

Only the chosen benchmark is imported, and its options are parsed by its own parser (``fleetsim
bench NAME --help``); errors are reported as ``fleetsim bench NAME: error: ...``, exit 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from simulator.bench import BENCHMARKS

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    listing = "\n".join(f"  {b.name:<13} {b.summary}" for b in BENCHMARKS.values())
    parser = commands.add_parser(
        "bench",
        help="run a benchmark (fleetsim bench NAME --help)",
        description=f"Run a benchmark. Benchmarks:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS), metavar="NAME")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the benchmark's options")
    # The benchmark's own parser reports errors as this one does (one line, exit 2).
    parser.set_defaults(handler=run, parser_class=type(parser))


def run(args: argparse.Namespace) -> int:
    benchmark = BENCHMARKS[args.benchmark]
    module = benchmark.load()
    parser: argparse.ArgumentParser = args.parser_class(
        prog=f"fleetsim bench {benchmark.name}", description=benchmark.summary
    )
    module.add_arguments(parser)
    options = parser.parse_args(args.options)
    options.argv = list(args.options)
    args.command = f"bench {benchmark.name}"  # how cli.main names the command in errors
    return module.run(options)
