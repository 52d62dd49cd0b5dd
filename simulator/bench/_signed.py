"""Requests signed one by one, over raw keep-alive connections: the client of ``--soak``.

:class:`Signer` turns ``(service, operation, params)`` into the bytes of an HTTP/1.1 request,
serialized and signed as boto3 does it: botocore's own serializer (the service models installed
with it) and its SigV4 signer, at the current time, so every request carries a fresh signature
and a long run never replays an expired one. Building and signing costs the client about 90 µs per
request, without botocore's endpoint resolution, retries and response parsing.

:class:`Connection` sends such bytes on one keep-alive connection (asyncio streams) and reads
one reply framed by ``Content-Length``; a connection the server closed is reopened on the next
request.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.credentials import Credentials
from botocore.serialize import create_serializer

__all__ = ["Connection", "Reply", "Signer"]

_CONTENT_LENGTH: Final = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_ERROR_TYPE: Final = re.compile(rb"\r\nx-amzn-errortype:\s*([A-Za-z]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    #: ``x-amzn-ErrorType`` of an error reply (``""`` when absent or on success).
    error: str
    body: bytes


class _Service:
    def __init__(self, model: Any, credentials: Credentials, region: str) -> None:
        self.model = model
        self.serializer = create_serializer(model.metadata["protocol"], include_validation=False)
        self.auth = SigV4Auth(credentials, model.signing_name, region)
        self.operations: dict[str, Any] = {}

    def operation(self, name: str) -> Any:
        model = self.operations.get(name)
        if model is None:
            model = self.operations[name] = self.model.operation_model(name)
        return model


class Signer:
    """Signed request bytes for ``url``, one service client of botocore's per service."""

    def __init__(
        self, url: str, *, region: str = "us-east-1", key: str = "test", secret: str = "test"
    ) -> None:
        self.url = url
        self.host = urlsplit(url).netloc
        session = botocore.session.get_session()
        credentials = Credentials(key, secret)
        self._services = {
            name: _Service(session.get_service_model(name), credentials, region)
            for name in ("iot", "iot-data", "iot-jobs-data")
        }

    def request(self, service: str, operation: str, params: dict[str, Any]) -> bytes:
        """The bytes of ``operation(**params)`` on ``service``, signed now."""
        svc = self._services[service]
        request_dict = svc.serializer.serialize_to_request(params, svc.operation(operation))
        prepare_request_dict(request_dict, endpoint_url=self.url)
        request = create_request_object(request_dict)
        svc.auth.add_auth(request)
        prepared = request.prepare()
        split = urlsplit(prepared.url)
        target = split.path + (f"?{split.query}" if split.query else "")
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode()
        lines = [f"{prepared.method} {target} HTTP/1.1", f"Host: {self.host}"]
        for name, value in prepared.headers.items():
            if name.lower() not in ("host", "content-length"):
                lines.append(f"{name}: {value.decode() if isinstance(value, bytes) else value}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection to ``host:port``, one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        #: Connections opened (the first included): more than one means the server closed one.
        self.opened = 0

    async def send(self, request: bytes) -> Reply:
        """Send ``request``, read its reply; raises ``OSError``/``IncompleteReadError``."""
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self.opened += 1
        reader, writer = self._reader, self._writer
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
        except BaseException:
            self.close()
            raise
        if b"\r\nconnection: close" in head.lower():
            self.close()
        error = _ERROR_TYPE.search(head)
        return Reply(int(head[9:12]), error.group(1).decode() if error else "", body)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
