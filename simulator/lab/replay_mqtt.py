"""The device's side of a replay over MQTT: ``--broker URI``.

One MQTT connection (fleetsim's own client, :class:`~simulator.transport.mqtt.ConnectionPool`
with one device; client id = thing name, clean session, QoS 1) on an asyncio loop in a thread
of its own, so the synchronous player can wait on each answer. The device's requests are the
ones a real device sends, each with a ``clientToken`` it waits for the answer to:

* ``report``: ``$aws/things/<thing>/shadow/name/$package/update`` -> ``/accepted`` or
  ``/rejected`` (a ``code`` 409 is a version conflict);
* ``start_next``: ``$aws/things/<thing>/jobs/start-next`` -> ``/accepted`` (with or without an
  ``execution``) or ``/rejected``;
* ``update_execution``: ``$aws/things/<thing>/jobs/<jobId>/update`` -> ``/accepted`` or
  ``/rejected``.

A play with a new thing closes the previous connection and opens one for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
from collections.abc import Set
from typing import Any, Final

import orjson

from simulator.core.errors import UsageError
from simulator.lab.replay import Answer, Reply
from simulator.lab.replay_remote import until_released
from simulator.transport.mqtt import ConnectionPool, PoolOptions, parse_broker_uri

__all__ = ["ANSWER_TIMEOUT_S", "MqttDevice"]

#: How long the device waits for an answer (or for its connection to come up).
ANSWER_TIMEOUT_S: Final = 30.0


class MqttDevice:
    """The device's requests over a broker (see the module docstring)."""

    def __init__(self, broker: str, *, created: Set[str] = frozenset()) -> None:
        self.broker = parse_broker_uri(broker)
        self._created = created  # the jobs this play created: worth waiting for
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._pool: ConnectionPool | None = None
        self._thing = ""
        self._tokens = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[tuple[str, dict[str, Any]]]] = {}

    def close(self) -> None:
        if self._pool is not None:
            self._run(self._pool.close())
            self._pool = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(ANSWER_TIMEOUT_S)
        self._loop.close()

    def _run(self, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(ANSWER_TIMEOUT_S + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    # -- the connection -----------------------------------------------------------------------

    def _connect(self, thing: str) -> None:
        if thing == self._thing:
            return
        try:
            self._run(self._open(thing))
        except (TimeoutError, concurrent.futures.TimeoutError):
            raise UsageError(
                f"--broker {self.broker.uri}: not connected within {ANSWER_TIMEOUT_S:g} s"
            ) from None
        self._thing = thing

    async def _open(self, thing: str) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        base = f"$aws/things/{thing}"
        filters = [
            f"{base}/shadow/name/$package/update/accepted",
            f"{base}/shadow/name/$package/update/rejected",
            f"{base}/jobs/start-next/accepted",
            f"{base}/jobs/start-next/rejected",
            f"{base}/jobs/+/update/accepted",
            f"{base}/jobs/+/update/rejected",
        ]
        pool = self._pool = ConnectionPool(
            self.broker,
            [thing],
            on_message=self._message,
            subscriptions=lambda _index: filters,
            options=PoolOptions(source_addresses=(), connect_timeout=ANSWER_TIMEOUT_S),
        )
        await pool.start()
        await pool.wait_online(timeout=ANSWER_TIMEOUT_S)

    def _message(self, _index: int, topic: str, payload: bytes, /) -> None:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        token = body.get("clientToken") if isinstance(body, dict) else None
        future = self._waiting.pop(token, None) if isinstance(token, str) else None
        if future is not None and not future.done():
            future.set_result((topic, body))

    async def _ask(self, topic: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        assert self._pool is not None
        token = f"replay-{next(self._tokens)}"
        future: asyncio.Future[tuple[str, dict[str, Any]]] = self._loop.create_future()
        self._waiting[token] = future
        self._pool.publish(0, topic, orjson.dumps({**body, "clientToken": token}))
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                return await future
        finally:
            self._waiting.pop(token, None)

    def _request(self, thing: str, suffix: str, body: dict[str, Any]) -> tuple[Reply, Any]:
        self._connect(thing)
        try:
            topic, answer = self._run(self._ask(f"$aws/things/{thing}/{suffix}", body))
        except (TimeoutError, concurrent.futures.TimeoutError):
            return (Answer.REJECTED, f"no answer within {ANSWER_TIMEOUT_S:g} s"), None
        if topic.endswith("/accepted"):
            return (Answer.ACCEPTED, ""), answer
        code = answer.get("code")
        detail = f"{_code_name(code)}: {answer.get('message', '')}"
        return (Answer.CONFLICT if code == 409 else Answer.REJECTED, detail), answer

    # -- DevicePort ------------------------------------------------------------------------------

    def report(self, thing: str, body: bytes, /) -> Reply:
        reply, _ = self._request(thing, "shadow/name/$package/update", orjson.loads(body))
        return reply

    def start_next(self, thing: str, /) -> Reply:
        def start() -> Reply:
            (answer, detail), found = self._request(thing, "jobs/start-next", {})
            if answer is not Answer.ACCEPTED:
                return answer, detail
            execution = found.get("execution")
            if not execution:
                return Answer.REJECTED, "no pending job execution"
            return Answer.ACCEPTED, str(execution.get("jobId", ""))

        return until_released(start, waiting=bool(self._created))

    def update_execution(self, thing: str, job_id: str, status: str, /) -> Reply:
        def update() -> Reply:
            reply, _ = self._request(thing, f"jobs/{job_id}/update", {"status": status})
            return reply

        return until_released(update, waiting=job_id in self._created)


def _code_name(code: object) -> str:
    """Jobs' MQTT error codes are names without ``Exception``; the shadow's are HTTP numbers."""
    if code == "ResourceNotFound":
        return "ResourceNotFoundException"
    return str(code)
