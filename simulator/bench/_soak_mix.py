"""The operations of ``fleetsim bench api --soak``: the fleet it provisions and the mix it runs.

**Provisioning** (through the API, before anything is measured): fleet indexing on, with the
``$package`` named shadow; package ``soak-firmware`` with versions 1.0.0 and 1.1.0 published;
group ``soak-fleet`` holding ``--things`` things (attributes ``batch`` and ``model``), each with a
classic shadow and a ``$package`` shadow; an empty group ``soak-churn``.

**The mix**: each of the ``--connections`` workers owns its own things (``--things`` is at least
``--connections``, so two workers never race on a thing) and loops, closed, over operations drawn
by :data:`WEIGHTS`: DescribeThing; GetThingShadow and UpdateThingShadow (a quarter on
``$package``); ListThings, following its own ``nextToken`` page after page; SearchIndex on an
attribute or a name prefix; StartNextPendingJobExecution and, when it hands out an execution,
UpdateJobExecution to SUCCEEDED (one in ten FAILED); thing churn (CreateThing with a new name,
AddThingToThingGroup, DescribeThing, DeleteThing); shadow churn (UpdateThingShadow then
DeleteThingShadow of a named shadow). One more connection runs the jobs: CreateJob over the
fleet group every :attr:`Mix.job_period` seconds (AWS's default rollout, 1000 things a minute);
every third time, DescribeJob of the previous job and CancelJob (force) if it is in progress;
DeleteJob (force) of all but the newest :data:`KEEP_JOBS`. So the state stays bounded:
whatever the server keeps beyond that is a leak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from simulator.bench._signed import Connection, Reply, Signer

__all__ = ["EXPECTED", "KEEP_JOBS", "WEIGHTS", "Mix", "Window"]

#: Relative frequency of each step of a worker's loop (a step is one to four requests).
WEIGHTS: Final[dict[str, int]] = {
    "describe_thing": 14,
    "get_shadow": 16,
    "update_shadow": 16,
    "list_things": 6,
    "search_index": 4,
    "next_job": 14,
    "thing_churn": 3,
    "shadow_churn": 3,
}
#: Error replies the mix provokes on purpose, counted apart from errors: the job connection
#: cancels and deletes jobs whose executions workers may be updating at that moment.
EXPECTED: Final = frozenset(
    {
        ("UpdateJobExecution", "InvalidStateTransitionException"),
        ("UpdateJobExecution", "ResourceNotFoundException"),
        ("UpdateJobExecution", "VersionConflictException"),
        # the job completed between DescribeJob and CancelJob:
        ("CancelJob", "InvalidRequestException"),
        ("CancelJob", "InvalidStateTransitionException"),
        ("DeleteJob", "InvalidStateTransitionException"),
        ("DeleteJob", "LimitExceededException"),
    }
)
#: Jobs kept; older ones are deleted (force).
KEEP_JOBS: Final = 3
FLEET: Final = "soak-fleet"
CHURN: Final = "soak-churn"
PACKAGE: Final = "soak-firmware"
VERSIONS: Final = ("1.0.0", "1.1.0")
DOCUMENT: Final = '{"operation":"firmware-update","steps":["download","install","reboot"]}'


@dataclass
class Window:
    """What the mix saw since the last sample."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)


class ProvisioningError(RuntimeError):
    """A provisioning request failed: the soak cannot start."""


def _thing(i: int) -> str:
    return f"soak-{i:06d}"


def _classic(rng: random.Random) -> bytes:
    reported = {"temperature": rng.randint(15, 35), "uptime": rng.randrange(10**6)}
    return json.dumps({"state": {"reported": reported, "desired": {"interval": 30}}}).encode()


def _package(version: str) -> bytes:
    return json.dumps(
        {"state": {"reported": {PACKAGE: {"version": version, "attributes": {}}}}}
    ).encode()


class Mix:
    """Provisions the fleet, then runs the workers and the job connection until :meth:`stop`."""

    def __init__(
        self, signer: Signer, connect: Callable[[], Connection], args: argparse.Namespace
    ) -> None:
        self.signer = signer
        self.connect = connect
        self.connections: int = args.connections
        self.things: int = args.things
        self.job_period = max(1.0, min(20.0, args.duration / 6))
        self.window = Window()
        self.running = True
        self.jobs: list[str] = []
        #: The first reply body of each error and expected error (``"Op status Type"``).
        self.examples: dict[str, str] = {}
        self._stopping = asyncio.Event()
        self._group_arn = ""

    @staticmethod
    def weights() -> dict[str, int]:
        return dict(WEIGHTS)

    async def call(
        self, conn: Connection, service: str, op: str, params: dict[str, Any]
    ) -> Reply | None:
        """One signed request; its latency and any error go to :attr:`window`."""
        request = self.signer.request(service, op, params)
        sent = time.perf_counter()
        try:
            reply = await conn.send(request)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.window.errors[f"{op} {type(exc).__name__}"] += 1
            return None
        self.window.latencies.append(time.perf_counter() - sent)
        if reply.status >= 300:
            key = f"{op} {reply.status} {reply.error or '?'}"
            self.examples.setdefault(key, reply.body[:300].decode(errors="replace"))
            if reply.status < 500 and (op, reply.error) in EXPECTED:
                self.window.expected[key] += 1
            else:
                self.window.errors[key] += 1
        return reply

    async def _must(
        self, conn: Connection, service: str, op: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        reply = await self.call(conn, service, op, params)
        if reply is None or reply.status != 200:
            detail = "no reply" if reply is None else f"{reply.status} {reply.body[:300]!r}"
            raise ProvisioningError(f"provisioning: {op} failed: {detail}")
        data: dict[str, Any] = json.loads(reply.body) if reply.body else {}
        return data

    # -- provisioning --------------------------------------------------------------------------

    async def provision(self) -> None:
        conn = self.connect()
        indexing = {
            "thingIndexingMode": "REGISTRY_AND_SHADOW",
            "namedShadowIndexingMode": "ON",
            "filter": {"namedShadowNames": ["$package"]},
        }
        await self._must(
            conn, "iot", "UpdateIndexingConfiguration", {"thingIndexingConfiguration": indexing}
        )
        await self._must(conn, "iot", "CreatePackage", {"packageName": PACKAGE})
        for version in VERSIONS:
            params = {"packageName": PACKAGE, "versionName": version}
            await self._must(
                conn, "iot", "CreatePackageVersion", {**params, "attributes": {"channel": "ga"}}
            )
            await self._must(conn, "iot", "UpdatePackageVersion", {**params, "action": "PUBLISH"})
        group = await self._must(conn, "iot", "CreateThingGroup", {"thingGroupName": FLEET})
        self._group_arn = group["thingGroupArn"]
        await self._must(conn, "iot", "CreateThingGroup", {"thingGroupName": CHURN})
        conn.close()
        conns = [self.connect() for _ in range(min(self.connections, 32))]
        await asyncio.gather(*(self._things(c, k, len(conns)) for k, c in enumerate(conns)))
        for c in conns:
            c.close()
        self.window = Window()

    async def _things(self, conn: Connection, first: int, step: int) -> None:
        rng = random.Random(first)
        for i in range(first, self.things, step):
            name = _thing(i)
            attributes = {"batch": str(i % 10), "model": f"m{i % 3}"}
            await self._must(
                conn,
                "iot",
                "CreateThing",
                {"thingName": name, "attributePayload": {"attributes": attributes}},
            )
            group = {"thingGroupName": FLEET, "thingName": name}
            await self._must(conn, "iot", "AddThingToThingGroup", group)
            shadow = {"thingName": name, "payload": _classic(rng)}
            await self._must(conn, "iot-data", "UpdateThingShadow", shadow)
            package = {"thingName": name, "shadowName": "$package", "payload": _package("1.0.0")}
            await self._must(conn, "iot-data", "UpdateThingShadow", package)

    # -- the run -------------------------------------------------------------------------------

    def start(self) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self._worker(w)) for w in range(self.connections)]
        tasks.append(asyncio.create_task(self._jobs()))
        return tasks

    async def stop(self, tasks: list[asyncio.Task[None]]) -> None:
        """Let every loop finish its step (30 s at most), then raise what one of them raised."""
        self.running = False
        self._stopping.set()
        _, pending = await asyncio.wait(tasks, timeout=30)
        for task in pending:
            task.cancel()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _worker(self, w: int) -> None:
        conn = self.connect()
        rng = random.Random(1000 + w)
        owned = [_thing(i) for i in range(w, self.things, self.connections)]
        steps = list(WEIGHTS)
        weights = list(WEIGHTS.values())
        state: dict[str, Any] = {"token": None, "churn": 0}
        try:
            while self.running:
                step = rng.choices(steps, weights)[0]
                await getattr(self, f"_{step}")(conn, rng, rng.choice(owned), w, state)
        finally:
            conn.close()

    async def _describe_thing(
        self, conn: Connection, rng: random.Random, thing: str, *_: Any
    ) -> None:
        await self.call(conn, "iot", "DescribeThing", {"thingName": thing})

    async def _get_shadow(self, conn: Connection, rng: random.Random, thing: str, *_: Any) -> None:
        params = {"thingName": thing}
        if rng.random() < 0.25:
            params["shadowName"] = "$package"
        await self.call(conn, "iot-data", "GetThingShadow", params)

    async def _update_shadow(
        self, conn: Connection, rng: random.Random, thing: str, *_: Any
    ) -> None:
        params: dict[str, Any] = {"thingName": thing, "payload": _classic(rng)}
        if rng.random() < 0.25:
            params = {"thingName": thing, "shadowName": "$package"}
            params["payload"] = _package(rng.choice(VERSIONS))
        await self.call(conn, "iot-data", "UpdateThingShadow", params)

    async def _list_things(
        self, conn: Connection, rng: random.Random, thing: str, w: int, state: dict[str, Any]
    ) -> None:
        params: dict[str, Any] = {"maxResults": 25}
        if state["token"]:
            params["nextToken"] = state["token"]
        reply = await self.call(conn, "iot", "ListThings", params)
        ok = reply is not None and reply.status == 200
        state["token"] = json.loads(reply.body).get("nextToken") if ok and reply else None

    async def _search_index(self, conn: Connection, rng: random.Random, *_: Any) -> None:
        if rng.random() < 0.75:
            query = f"attributes.batch:{rng.randrange(10)}"
        else:
            query = f"thingName:soak-{rng.randrange(10)}*"
        await self.call(conn, "iot", "SearchIndex", {"queryString": query, "maxResults": 25})

    async def _next_job(self, conn: Connection, rng: random.Random, thing: str, *_: Any) -> None:
        reply = await self.call(
            conn, "iot-jobs-data", "StartNextPendingJobExecution", {"thingName": thing}
        )
        if reply is None or reply.status != 200:
            return
        execution = json.loads(reply.body).get("execution")
        if not execution:
            return
        status = "FAILED" if rng.random() < 0.1 else "SUCCEEDED"
        update = {
            "thingName": thing,
            "jobId": execution["jobId"],
            "status": status,
            "statusDetails": {"step": "reboot"},
            "expectedVersion": execution["versionNumber"],
        }
        await self.call(conn, "iot-jobs-data", "UpdateJobExecution", update)

    async def _thing_churn(
        self, conn: Connection, rng: random.Random, thing: str, w: int, state: dict[str, Any]
    ) -> None:
        state["churn"] += 1
        name = f"soak-churn-{w}-{state['churn']}"
        attributes = {"attributes": {"batch": "churn"}}
        await self.call(
            conn, "iot", "CreateThing", {"thingName": name, "attributePayload": attributes}
        )
        group = {"thingGroupName": CHURN, "thingName": name}
        await self.call(conn, "iot", "AddThingToThingGroup", group)
        await self.call(conn, "iot", "DescribeThing", {"thingName": name})
        await self.call(conn, "iot", "DeleteThing", {"thingName": name})

    async def _shadow_churn(
        self, conn: Connection, rng: random.Random, thing: str, *_: Any
    ) -> None:
        params = {"thingName": thing, "shadowName": "soak-tmp"}
        await self.call(conn, "iot-data", "UpdateThingShadow", {**params, "payload": _classic(rng)})
        await self.call(conn, "iot-data", "DeleteThingShadow", params)

    async def _cancel(self, conn: Connection, job: str) -> None:
        reply = await self.call(conn, "iot", "DescribeJob", {"jobId": job})
        ok = reply is not None and reply.status == 200
        if ok and reply and json.loads(reply.body)["job"]["status"] == "IN_PROGRESS":
            cancel = {"jobId": job, "force": True, "comment": "soak"}
            await self.call(conn, "iot", "CancelJob", cancel)

    async def _jobs(self) -> None:
        conn = self.connect()
        n = 0
        try:
            while self.running:
                n += 1
                job = f"soak-job-{n}"
                params = {"jobId": job, "targets": [self._group_arn], "document": DOCUMENT}
                reply = await self.call(conn, "iot", "CreateJob", params)
                if reply is not None and reply.status == 200:
                    self.jobs.append(job)
                if n % 3 == 0 and len(self.jobs) >= 2:
                    await self._cancel(conn, self.jobs[-2])
                while len(self.jobs) > KEEP_JOBS:
                    delete = {"jobId": self.jobs.pop(0), "force": True}
                    await self.call(conn, "iot", "DeleteJob", delete)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.job_period)
        finally:
            conn.close()
