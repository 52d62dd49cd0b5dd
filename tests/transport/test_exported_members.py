"""The MQTT transport's public API is its ``__all__``, pinned here so changes are deliberate."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "simulator.transport.mqtt": [
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
    ],
    "simulator.transport.mqtt.codec": [
        "DISCONNECT",
        "MAX_REMAINING_LENGTH",
        "PINGREQ",
        "ConnAck",
        "Connect",
        "Decoder",
        "Disconnect",
        "Packet",
        "PacketType",
        "PingReq",
        "PingResp",
        "PubAck",
        "Publish",
        "SubAck",
        "Subscribe",
        "encode",
        "encode_puback",
        "encode_publish",
    ],
    "simulator.transport": [],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_exported_members(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is exported but missing"
