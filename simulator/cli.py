"""``fleetsim`` command line: argument parsing and wiring only.

Every command reports bad input as one line on stderr and exits with status 2; nothing a user
types produces a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from simulator.commands import (
    bench,
    broker_config,
    explain,
    provision,
    replay,
    repro,
    run,
    serve,
    substitute,
    sweep,
)
from simulator.core.errors import FleetsimError

__all__ = ["main"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fleetsim",
        description="Fleet simulator and load tester for AWS IoT Jobs and Package Catalog.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run.register(commands)
    substitute.register(commands)
    serve.register(commands)
    broker_config.register(commands)
    provision.register(commands)
    bench.register(commands)
    sweep.register(commands)
    explain.register(commands)
    repro.register(commands)
    replay.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except FleetsimError as exc:
        kind = getattr(exc, "error_type", None)
        prefix = f"{kind}: " if kind else ""
        print(f"fleetsim {args.command}: error: {prefix}{exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
