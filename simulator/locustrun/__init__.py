"""Locust load tests from fleetsim scenarios: the only package that imports locust.

Importing locust monkey-patches the process with gevent, so nothing else in :mod:`simulator`
imports this package; a locustfile does (``scenarios/locust/fleet.py``)::

    from simulator.locustrun import DeviceUser, install

    install()

:func:`install` adds fleetsim's options to Locust's command line and hooks its events;
:class:`DeviceUser` is one virtual device per Locust user. Modules: :mod:`.options` (the
command line), :mod:`.coordinator` (roles, leases, messages, the report), :mod:`.users`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment

from simulator.core.errors import FleetsimError
from simulator.engine.mqtt.elastic import DeviceFactory
from simulator.locustrun.coordinator import Coordinator
from simulator.locustrun.options import add_arguments, load_config, portable
from simulator.locustrun.users import DeviceUser

__all__ = ["DeviceUser", "install"]

log = logging.getLogger("fleetsim")
_installed: list[bool] = []


def _coordinator(environment: Environment) -> Coordinator | None:
    found = getattr(environment, "fleetsim", None)
    return found if isinstance(found, Coordinator) else None


def _fail(environment: Environment, message: str | None) -> None:
    coordinator = _coordinator(environment)
    if coordinator is not None:
        coordinator.failed = True
    if message is not None:
        log.error("error: %s", message)
    environment.process_exit_code = 2
    runner = environment.runner
    if runner is not None:
        import gevent  # noqa: PLC0415

        gevent.spawn_later(0.3, runner.quit)  # after Locust's CSV writer starts


def _exit_now(code: int = 2) -> None:
    """Refuse a test at start-up: nothing has run yet, so leave at once (and take the worker
    processes ``--processes`` forked along, which would otherwise wait for this master)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # the parent pid
            with contextlib.suppress(OSError):
                os.kill(int(stat.parent.name), signal.SIGTERM)
    os._exit(code)


def install(*, device_factory: DeviceFactory | None = None, operator: bool = True) -> None:
    """Hook fleetsim into Locust's events (once per process).

    Args:
        device_factory: builds each device (default: the scenario's behaviour); benchmarks
            pass a device with a fixed workload.
        operator: drive the control plane and write the report (False: devices only, for
            benchmarks against a plain responder; then no ``--control-plane`` is used).
    """
    if _installed:
        return
    _installed.append(True)

    def _parser(parser: Any, **_: Any) -> None:
        add_arguments(parser)

    def _init(environment: Environment, **_: Any) -> None:
        if environment.runner is None:
            return
        coordinator = Coordinator(environment, device_factory=device_factory, operator=operator)
        environment.fleetsim = coordinator  # type: ignore[attr-defined]
        options = environment.parsed_options
        if options is None:
            return
        if coordinator.role == "worker":
            # A worker forked by --processes has the master's command line: when the master
            # refuses it, the worker must not wait for a master that is gone. (A worker started
            # on its own, with no --scenario, gets the options from the master.)
            if getattr(options, "scenario", None):
                try:
                    load_config(options, distributed=True)
                except FleetsimError:
                    _exit_now()  # the master says why
            return
        try:
            load_config(options, distributed=coordinator.distributed)
        except FleetsimError as exc:
            log.error("error: %s", exc.message)
            _exit_now()
        portable(options)

    def _start(environment: Environment, **_: Any) -> None:
        coordinator = _coordinator(environment)
        if coordinator is None or coordinator.failed:
            return
        try:
            coordinator.test_start()
        except FleetsimError as exc:
            _fail(environment, exc.message)

    def _stopping(environment: Environment, **_: Any) -> None:
        coordinator = _coordinator(environment)
        if coordinator is not None:
            coordinator.test_stopping()

    def _quitting(environment: Environment, **_: Any) -> None:
        coordinator = _coordinator(environment)
        if coordinator is not None:
            coordinator.quitting()

    hooks: Any = events
    hooks.init_command_line_parser.add_listener(_parser)
    hooks.init.add_listener(_init)
    hooks.test_start.add_listener(_start)
    hooks.test_stopping.add_listener(_stopping)
    hooks.quitting.add_listener(_quitting)
