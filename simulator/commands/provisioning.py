"""The machinery of ``fleetsim provision`` / ``deprovision``: manifest, paced calls, Ctrl-C.

* :class:`Manifest`: ``DIR/fleetsim-provision.json`` and its journal
  ``DIR/fleetsim-provision.jsonl``: one JSON line per call that created or attached something,
  written and flushed by the worker that made the call, right after it returned; :meth:`finish`
  folds the journal into the JSON. :func:`load_manifest` reads both, so a run cut short still
  lists what it created;
* :class:`Api`: the boto3 ``iot`` client; each operation paced by a token bucket (burst 1) at the
  rate ``--rate`` gives it (:class:`~simulator.api.http.throttle.ThrottleSpec`), a
  ThrottlingException retried with jittered exponential backoff (0.5 s doubling to 20 s,
  8 attempts), on top of botocore's standard retries of other transient errors;
* :func:`interrupts`: the first Ctrl-C (or SIGTERM) sets an event: workers finish the call in
  flight, record it and stop (:class:`Stopped`); a second one aborts;
* :func:`each`: work over the worker threads of :mod:`simulator.engine.mqtt.provision`
  (``thread_map``), with a rich progress bar on a terminal.
"""

from __future__ import annotations

import contextlib
import functools
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from simulator.core.errors import UsageError

__all__ = [
    "JOURNAL",
    "MANIFEST",
    "Api",
    "Manifest",
    "Stopped",
    "aws_errors",
    "each",
    "interrupts",
    "load_manifest",
]

MANIFEST: Final = "fleetsim-provision.json"
JOURNAL: Final = "fleetsim-provision.jsonl"
_ATTEMPTS: Final = 8
#: Journal entry kind -> its list in the manifest.
_SECTIONS: Final = {
    "group": "groups",
    "policy": "policies",
    "thing": "things",
    "member": "memberships",
    "certificate": "certificates",
    "policy-attachment": "policy_attachments",
    "thing-principal": "thing_principals",
    "file": "files",
}


class Stopped(Exception):
    """Ctrl-C: the current item stops before its next call."""


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """A failed AWS call (refused, unreachable, no credentials) as one UsageError line."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from simulator.engine.mqtt.provision import describe_error  # noqa: PLC0415

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise UsageError(f"{what}: {describe_error(exc)}") from None


# -- the manifest ---------------------------------------------------------------------------


class Manifest:
    """The header in ``DIR/fleetsim-provision.json`` and the journal of what was created."""

    def __init__(self, directory: Path, header: dict[str, Any]) -> None:
        self.path, self.journal = directory / MANIFEST, directory / JOURNAL
        self.header = header
        self._lock = threading.Lock()
        self._write(header | {"complete": False})
        self._file = self.journal.open("ab")

    def _write(self, document: dict[str, Any]) -> None:
        partial = self.path.with_suffix(".json.partial")
        partial.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        partial.replace(self.path)

    def record(self, kind: str, **fields: Any) -> None:
        with self._lock:
            self._file.write(orjson.dumps({"kind": kind, **fields}) + b"\n")
            self._file.flush()

    def finish(self, *, complete: bool) -> bool:
        """Fold the journal into the JSON; with nothing recorded, remove both. Whether kept."""
        self._file.close()
        entries = _journal(self.journal)
        if entries:
            self._write(_fold(self.header | {"complete": complete}, entries))
        else:
            self.path.unlink(missing_ok=True)
        self.journal.unlink()
        return bool(entries)


def _journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_bytes().splitlines()
    entries = []
    for line in lines:
        try:
            entries.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue  # a line cut short by a crash: its call is the one unrecorded
    return entries


def _fold(document: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(document)
    for kind, section in _SECTIONS.items():
        out.setdefault(section, [])
        out[section] = out[section] + [
            {k: v for k, v in e.items() if k != "kind"} for e in entries if e["kind"] == kind
        ]
    return out


def load_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"{path}: no provision manifest (nothing to deprovision)") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UsageError(f"{path}: unreadable manifest: {exc}") from None
    if not isinstance(document, dict) or document.get("fleetsim") != "provision":
        raise UsageError(f"{path}: not a fleetsim provision manifest")
    return _fold(document, _journal(directory / JOURNAL))


# -- calls: clients, pacing, retries ---------------------------------------------------------


class Api:
    """boto3 ``iot`` client, per-operation pacing and ThrottlingException retries."""

    def __init__(self, target: str, region: str | None, rate: str, stop: threading.Event) -> None:
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        from simulator.api.http.throttle import parse_throttle  # noqa: PLC0415
        from simulator.engine.mqtt.provision import WORKERS  # noqa: PLC0415

        self.spec = parse_throttle(rate)
        self.stop = stop
        self._buckets: dict[str, Any] = {}
        self._lock = threading.Lock()
        config = Config(
            max_pool_connections=WORKERS * 2,
            retries={"total_max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        if region is None and target != "aws":
            region = "us-east-1"  # fleetsim serve's default
        session = boto3.Session(region_name=region)
        self.region = session.region_name or "us-east-1"
        if target == "aws":
            if session.region_name is None:
                raise UsageError("--target aws: no AWS region (set AWS_REGION or --region)")
            self.iot: Any = session.client("iot", config=config)
            with aws_errors("--target aws"):
                sts = session.client("sts", config=config)
                self.account: str | None = sts.get_caller_identity()["Account"]
            return
        keys: dict[str, str] = {}
        if session.get_credentials() is None:
            keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        self.iot = session.client("iot", endpoint_url=target, config=config, **keys)
        self.account = None  # read from the first ARN the emulator returns

    def _pace(self, operation: str) -> None:
        from simulator.api.http.throttle import TokenBucket  # noqa: PLC0415

        limit = None if self.spec is None else self.spec.limit("iot", operation)
        if limit is None:
            return
        name, rate = limit
        while True:
            with self._lock:
                bucket = self._buckets.setdefault(name, TokenBucket(rate=rate, burst=1.0))
                delay = bucket.reserve(time.monotonic())
            if delay == 0.0:
                return
            if self.stop.wait(delay):
                raise Stopped

    def __call__(self, operation: str, **kwargs: Any) -> Any:
        """Call ``operation`` (e.g. ``CreateThing``) when its rate allows; retry throttling."""
        from botocore import xform_name  # noqa: PLC0415

        from simulator.engine.mqtt.provision import error_code  # noqa: PLC0415

        method = getattr(self.iot, xform_name(operation))
        for attempt in range(_ATTEMPTS):
            if self.stop.is_set():
                raise Stopped
            self._pace(operation)
            try:
                return method(**kwargs)
            except Exception as exc:
                if error_code(exc) != "ThrottlingException" or attempt == _ATTEMPTS - 1:
                    raise
                if self.stop.wait(min(20.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)):
                    raise Stopped from None
        raise AssertionError("unreachable")

    def tolerant(self, codes: set[str], operation: str, **kwargs: Any) -> Any:
        """The call, or None when it fails with one of the AWS error ``codes``."""
        from simulator.engine.mqtt.provision import tolerate  # noqa: PLC0415

        return tolerate(codes, functools.partial(self, operation, **kwargs))


@functools.cache
def interrupts() -> threading.Event:
    """An event set by the first Ctrl-C (SIGINT/SIGTERM); the second one stops at once."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(
            "fleetsim: stopping after the calls in flight (Ctrl-C again to abort)", file=sys.stderr
        )

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
    return stop


def each(work: Callable[[Any], None], items: list[Any], label: str, quiet: bool) -> list[str]:
    """``work`` over ``items`` on the worker threads; the failures, one line each."""
    from simulator.engine.mqtt.provision import describe_error, thread_map  # noqa: PLC0415

    failures: list[str] = []

    def one(item: Any) -> None:
        try:
            work(item)
        except Stopped:
            pass
        except Exception as exc:
            failures.append(f"{item}: {describe_error(exc)}")

    with _progress(label, len(items), quiet) as advance:
        for _ in thread_map(one, items):
            advance()
    return failures


@functools.cache
def _console() -> Any:
    from rich.console import Console  # noqa: PLC0415

    return Console(file=sys.stderr)


class _progress:
    """A rich progress bar on a terminal (not ``quiet``), a no-op otherwise."""

    def __init__(self, label: str, total: int, quiet: bool) -> None:
        self._bar: Any = None
        if not quiet and _console().is_terminal and total > 1:
            from rich.progress import Progress  # noqa: PLC0415

            self._bar = Progress(console=_console(), transient=True)
            self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> Callable[[], None]:
        if self._bar is None:
            return lambda: None
        self._bar.start()
        return lambda: self._bar.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
