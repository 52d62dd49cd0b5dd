"""TLS and mutual TLS against Mosquitto; ALPN and SNI as an AWS IoT endpoint would see them."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from simulator.transport.mqtt import BrokerConfig, ConnectionPool, TlsConfig
from tests.mqtt_broker import Mosquitto, TlsFiles
from tests.transport.conftest import Inbox, eventually, notify_topic, pool_for, with_pool

NAMES = ["device-000000", "device-000001"]


@pytest.mark.asyncio
async def test_tls_verifies_the_broker_and_carries_messages(tmp_path: Path) -> None:
    pki = TlsFiles.generate(tmp_path / "pki")
    inbox = Inbox()

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=30)
        pool.publish(0, notify_topic(NAMES[1]), b"over tls")
        await eventually(lambda: inbox.payloads(1) == [b"over tls"])

    with Mosquitto(tmp_path / "broker", tls=pki) as broker:
        assert broker.uri.startswith("mqtts://")
        await with_pool(
            pool_for(broker.uri, NAMES, inbox, tls=TlsConfig(ca_file=pki.ca_file)), body
        )

        # Without the CA: the system CAs do not know the test CA.
        pool = pool_for(broker.uri, NAMES[:1], backoff_base=0.05, backoff_cap=0.1)
        await pool.start()
        try:
            await eventually(lambda: pool.stats().failures >= 2)
            assert pool.stats().online == 0
            assert "CERTIFICATE_VERIFY_FAILED" in (pool.stats().last_error or "")
        finally:
            await pool.close()


@pytest.mark.asyncio
async def test_mutual_tls_with_per_device_certificates_and_an_acl(tmp_path: Path) -> None:
    pki = TlsFiles.generate(tmp_path / "pki")
    credentials = {i: pki.issue_client(name) for i, name in enumerate(NAMES)}
    inbox = Inbox()
    acl = "pattern readwrite $aws/things/%u/#"  # user name = certificate CN = thing name

    async def body(pool: ConnectionPool) -> None:
        await pool.wait_online(timeout=30)
        assert pool.stats().subscribe_failures == 0
        pool.publish(0, notify_topic(NAMES[0]), b"to myself")
        pool.publish(0, notify_topic(NAMES[1]), b"denied by the ACL")
        await eventually(lambda: inbox.payloads(0) == [b"to myself"])
        # Both PUBACKed: the broker has routed (or refused) each of them by now.
        await eventually(lambda: pool.connections[0].unacknowledged == 0)
        # A barrier on device 1's own topic, routed after the refused message: the broker writes
        # to device 1's socket in order, so once the barrier is in, a leak would be in before it.
        pool.publish(1, notify_topic(NAMES[1]), b"barrier")
        await eventually(lambda: inbox.payloads(1) != [])
        assert inbox.payloads(1) == [b"barrier"]

    tls = TlsConfig(ca_file=pki.ca_file, device_credentials=credentials.__getitem__)
    with Mosquitto(tmp_path / "broker", tls=pki, require_certificate=True, acl=acl) as broker:
        await with_pool(pool_for(broker.uri, NAMES, inbox, tls=tls), body)

        # Without a client certificate: refused.
        pool = pool_for(
            broker.uri,
            NAMES[:1],
            tls=TlsConfig(ca_file=pki.ca_file),
            backoff_base=0.05,
            backoff_cap=0.1,
        )
        await pool.start()
        try:
            await eventually(lambda: pool.stats().failures >= 2, what="refused")
            stats = pool.stats()
            assert stats.online == 0 and stats.connects == 0
        finally:
            await pool.close()


@pytest.mark.asyncio
async def test_alpn_and_sni_for_aws_iot(tmp_path: Path) -> None:
    """A TLS peer standing in for AWS IoT Core records what the client offers."""
    pki = TlsFiles.generate(tmp_path / "pki")
    endpoint = "abc123-ats.iot.eu-west-1.amazonaws.com"
    seen: dict[str, object] = {}
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pki.server_cert, pki.server_key)
    server_ctx.set_alpn_protocols(["x-amzn-mqtt-ca"])

    def record_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        seen["sni"] = name

    server_ctx.sni_callback = record_sni

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["alpn"] = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        await reader.read(100)  # CONNECT
        writer.write(b"\x20\x02\x00\x00")
        await reader.read()
        writer.close()  # answer the client's TLS close_notify: its close need not time out

    server = await asyncio.start_server(peer, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    tls = TlsConfig(
        ca_file=pki.ca_file,
        server_hostname=endpoint,
        check_hostname=False,  # the test certificate names localhost, not the endpoint
        alpn=TlsConfig().alpn_for(443),  # what port 443 would send
    )
    pool = ConnectionPool(
        BrokerConfig("127.0.0.1", port, tls=True),
        ["device-000000"],
        on_message=Inbox(),
        options=pool_for("mqtt://x", [], tls=tls).options,
    )
    await pool.start()
    try:
        await pool.wait_online(timeout=30)
    finally:
        await pool.close()
        server.close()
    assert seen == {"sni": endpoint, "alpn": "x-amzn-mqtt-ca"}
