"""Device-side MQTT over real sockets: one connection per simulated device, many per process.

::

    from simulator.transport.mqtt import ConnectionPool, PoolOptions, parse_broker_uri

    pool = ConnectionPool(
        parse_broker_uri("mqtt://127.0.0.1:1883"),
        [f"device-{i:06d}" for i in shard_range(0, 1, 10_000)],   # client id = thing name
        on_message=lambda index, topic, payload: ...,             # synchronous, per message
        subscriptions=lambda index: [f"$aws/things/device-{index:06d}/jobs/notify-next"],
        options=PoolOptions(keepalive=60, connect_rate=2000, clean_session=True),
    )
    await pool.start()            # ramps at connect_rate, reconnects with jittered backoff
    await pool.wait_online()
    pool.publish(index, topic, payload)                            # QoS 1 by default
    await pool.close()

The codec (:mod:`simulator.transport.mqtt.codec`) is sans-IO MQTT 3.1.1; everything else here
is the asyncio driver around it. Why this client and not aiomqtt or gmqtt: the "MQTT clients"
section of ``benchmarks/RESULTS.md``.
"""

from simulator.transport.mqtt.connection import Connection, ConnectionState, MessageCallback
from simulator.transport.mqtt.errors import ConnectionRefused, MqttError, ProtocolError
from simulator.transport.mqtt.net import (
    connection_capacity,
    loopback_sources,
    raise_open_file_limit,
)
from simulator.transport.mqtt.pool import ConnectionPool, PoolOptions, PoolStats
from simulator.transport.mqtt.ramp import Backoff, TokenBucket
from simulator.transport.mqtt.shards import Shard, parse_shard, shard_range
from simulator.transport.mqtt.tls import AWS_IOT_ALPN, TlsConfig
from simulator.transport.mqtt.uri import BrokerConfig, parse_broker_uri

__all__ = [
    "AWS_IOT_ALPN",
    "Backoff",
    "BrokerConfig",
    "Connection",
    "ConnectionPool",
    "ConnectionRefused",
    "ConnectionState",
    "MessageCallback",
    "MqttError",
    "PoolOptions",
    "PoolStats",
    "ProtocolError",
    "Shard",
    "TlsConfig",
    "TokenBucket",
    "connection_capacity",
    "loopback_sources",
    "parse_broker_uri",
    "parse_shard",
    "raise_open_file_limit",
    "shard_range",
]
