"""The minimal responder of ``fleetsim bench locust``: answers every ``start-next``, nothing else.

    python -m simulator.bench._locust_responder --broker mqtt://127.0.0.1:1883

One MQTT connection (the project's :class:`~simulator.transport.mqtt.ConnectionPool` with one
client, uvloop) subscribed to ``$aws/things/+/jobs/start-next``; each request is answered on
``<topic>/accepted`` with ``{"clientToken": <the request's>}`` at QoS 1, from the read callback
(no task per message). Not the emulator: no job state, so the benchmark measures the devices'
side. Prints ``{"event": "ready"}`` once subscribed and, on SIGTERM,
``{"event": "done", "answered": N, "malformed": M}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

import orjson
import uvloop

from simulator.transport.mqtt import ConnectionPool, PoolOptions, parse_broker_uri

__all__ = ["main"]

REQUESTS = "$aws/things/+/jobs/start-next"


async def _serve(broker: str) -> None:
    answered = malformed = 0
    pool: ConnectionPool | None = None

    def on_message(index: int, topic: str, payload: bytes, /) -> None:
        nonlocal answered, malformed
        try:
            token = orjson.loads(payload)["clientToken"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            malformed += 1
            return
        assert pool is not None
        pool.publish(0, topic + "/accepted", orjson.dumps({"clientToken": token}))
        answered += 1

    pool = ConnectionPool(
        parse_broker_uri(broker),
        ["bench-responder"],
        on_message=on_message,
        subscriptions=lambda _: [REQUESTS],
        # One connection carries every answer: no cap on unacknowledged QoS 1 publishes.
        options=PoolOptions(keepalive=60, max_inflight=65_000, source_addresses=()),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await pool.start()
    await pool.wait_online(timeout=30)
    print(json.dumps({"event": "ready"}), flush=True)
    await stop.wait()
    print(json.dumps({"event": "done", "answered": answered, "malformed": malformed}), flush=True)
    await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--broker", required=True, help="mqtt://HOST:PORT")
    args = parser.parse_args(argv)
    uvloop.run(_serve(args.broker))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
