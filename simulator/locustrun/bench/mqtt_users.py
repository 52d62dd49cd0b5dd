"""Locustfile of ``fleetsim bench locust``, client ``locust-mqtt``: Locust's own ``MqttUser``.

    locust -f simulator/locustrun/bench/mqtt_users.py --headless -u 500 -r 100 -t 60s \
        --broker mqtt://127.0.0.1:1883 --only-summary

The same workload as ``fleetsim_users.py`` with ``locust.contrib.mqtt.MqttUser`` (paho
under gevent, ``use_loop_selectors = True``, which it needs beyond ~340 connections): client id
= thing name (``bench-NNNNNN``), on CONNACK one SUBSCRIBE of the thing's 5 Jobs filters (those of
``simulator.engine.mqtt.link.device_topics``) at QoS 1, then a ``{"clientToken": ...}`` on
``$aws/things/<name>/jobs/start-next`` every 10 s (``constant_pacing``), the first at a random
offset in [0, 10) s after the SUBACK. The answer on ``start-next/accepted`` is matched by
clientToken in ``on_message``, which fires ``events.request`` as ``MQTT start-next`` with the
time from publish to answer; a request unanswered for 10 s is a failure, as for our devices.

One change to the class's reporting, not its work: ``_generate_event_name`` drops the topic, so
its own ``publish``/``subscribe`` events (it still fires one per PUBACK and SUBACK) land in one
stats row each instead of one row per device (its default grows Locust's stats with the fleet).
"""

from __future__ import annotations

import itertools
import random
import time
from typing import Any, Final
from urllib.parse import urlsplit

import gevent.event
import orjson
from locust import constant_pacing, events, task
from locust.contrib.mqtt import MqttClient, MqttUser
from locust.env import Environment

from simulator.locustrun.bench.probe import REQUEST_NAME, install_probe

__all__ = ["PeerUser"]

PERIOD_S: Final = 10.0
TIMEOUT_S: Final = 10.0
_INDEX: Final = itertools.count()
_OFFSETS: Final = random.Random(0)
_online = [0]  # clients connected and subscribed


def _topics(name: str) -> list[tuple[str, int]]:
    jobs = f"$aws/things/{name}/jobs"
    filters = ["notify-next", "start-next/accepted", "start-next/rejected"]
    filters += ["+/update/accepted", "+/update/rejected"]
    return [(f"{jobs}/{tail}", 1) for tail in filters]


class BenchClient(MqttClient):
    """``MqttClient`` that subscribes on connect and tells its user when the SUBACK came."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ready = gevent.event.Event()
        self.subscribed = False

    def _generate_event_name(self, event_type: str, qos: int, topic: str) -> str:
        return f"{event_type}:{qos}"

    def _on_connect_cb(self, client: Any, userdata: Any, flags: Any, rc: Any) -> None:
        super()._on_connect_cb(client, userdata, flags, rc)
        if rc == 0:
            self.subscribe(_topics(str(self.client_id)))

    def _on_subscribe_cb_v3x(
        self, client: Any, userdata: Any, mid: int, granted_qos: list[int]
    ) -> None:
        super()._on_subscribe_cb_v3x(client, userdata, mid, granted_qos)
        if not self.subscribed:
            self.subscribed = True
            _online[0] += 1
        self.ready.set()

    def _on_disconnect_cb(self, client: Any, userdata: Any, rc: Any) -> None:
        if self.subscribed:
            self.subscribed = False
            _online[0] -= 1
        super()._on_disconnect_cb(client, userdata, rc)


class PeerUser(MqttUser):
    client_cls = BenchClient
    use_loop_selectors = True
    wait_time = constant_pacing(PERIOD_S)

    def __init__(self, environment: Environment) -> None:
        self.thing = f"bench-{next(_INDEX):06d}"
        self.client_id: Any = self.thing  # MqttUser.__init__ connects with it
        self.topic = f"$aws/things/{self.thing}/jobs/start-next"
        self.pending: dict[str, float] = {}
        self.requests = 0
        super().__init__(environment)
        # Safe after connect_async/loop_start: the loop greenlet runs only when this one yields.
        self.client.on_message = self._on_message

    def on_start(self) -> None:
        client = self.client
        assert isinstance(client, BenchClient)
        client.ready.wait()
        gevent.sleep(_OFFSETS.uniform(0.0, PERIOD_S))

    @task
    def request(self) -> None:
        now = time.time()
        for token, sent in list(self.pending.items()):
            if now - sent >= TIMEOUT_S:
                del self.pending[token]
                self._fire((now - sent) * 1000.0, 0, TimeoutError(f"no answer in {TIMEOUT_S:g} s"))
        self.requests += 1
        token = f"{self.thing}:{self.requests}"
        self.pending[token] = now
        self.client.publish(self.topic, orjson.dumps({"clientToken": token}), qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if not message.topic.endswith("/start-next/accepted"):
            return
        try:
            token = orjson.loads(message.payload).get("clientToken")
        except (orjson.JSONDecodeError, AttributeError):
            return
        sent = self.pending.pop(token, None)
        if sent is not None:
            self._fire((time.time() - sent) * 1000.0, len(message.payload), None)

    def _fire(self, ms: float, length: int, exception: BaseException | None) -> None:
        self.environment.events.request.fire(
            request_type="MQTT",
            name=REQUEST_NAME,
            response_time=ms,
            response_length=length,
            exception=exception,
            context={},
        )


def _parser(parser: Any, **_: Any) -> None:
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="mqtt://HOST:PORT")


def _init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is not None:
        uri = urlsplit(options.broker)
        PeerUser.host = uri.hostname or "127.0.0.1"
        PeerUser.port = uri.port or 1883


_hooks: Any = events  # its listeners are untyped
_hooks.init_command_line_parser.add_listener(_parser)
_hooks.init.add_listener(_init)
install_probe(lambda _environment: _online[0])
