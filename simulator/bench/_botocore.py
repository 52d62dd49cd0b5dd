"""botocore's own presigner as the peer of fleetsim's: ``s3.generate_presigned_url``.

One S3 client per region and addressing style (virtual-hosted for DNS-compatible buckets, path
style otherwise; ``us-east-1`` regional), as a user would write it. Two things are pinned so that
its URLs can be compared byte for byte with fleetsim's: the signing time (botocore reads
``botocore.auth.get_current_datetime``; :meth:`BotocorePresigner.pinned` replaces it for the
duration of a ``with`` block and restores it), and the signer class, botocore's Python SigV4
(with ``awscrt`` installed botocore would pick the CRT signer, which orders query parameters
differently).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from simulator.core.substitution import S3Object

__all__ = ["BotocorePresigner"]

_DNS_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


class BotocorePresigner:
    """``generate_presigned_url`` for ``get_object``/``put_object`` at a pinned time."""

    def __init__(
        self, access_key: str, secret_key: str, *, region: str, session_token: str | None = None
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._token = session_token
        self.region = region
        self._clients: dict[tuple[str, str], Any] = {}
        self._when = dt.datetime(1970, 1, 1)

    def _client(self, region: str, style: str) -> Any:
        client = self._clients.get((region, style))
        if client is None:
            import botocore.session  # noqa: PLC0415 - only this benchmark needs a session
            from botocore.config import Config  # noqa: PLC0415

            s3: Any = {"addressing_style": style, "us_east_1_regional_endpoint": "regional"}
            config = Config(signature_version="s3v4", s3=s3)
            client = botocore.session.get_session().create_client(
                "s3",
                region_name=region,
                aws_access_key_id=self._access_key,
                aws_secret_access_key=self._secret_key,
                aws_session_token=self._token,
                config=config,
            )
            self._clients[(region, style)] = client
        return client

    def at(self, now: float) -> None:
        """Sign the next URLs at ``now`` (whole seconds, as SigV4 does)."""
        self._when = dt.datetime.fromtimestamp(int(now), tz=dt.UTC).replace(tzinfo=None)

    @contextmanager
    def pinned(self) -> Iterator[BotocorePresigner]:
        """botocore's clock reads :meth:`at`'s time, and its Python signer signs, inside."""
        import botocore.auth  # noqa: PLC0415

        auth: Any = botocore.auth  # get_current_datetime is missing from the type stubs
        saved_clock = auth.get_current_datetime
        saved_signer = auth.AUTH_TYPE_MAPS.get("s3v4-query")
        auth.get_current_datetime = lambda: self._when
        auth.AUTH_TYPE_MAPS["s3v4-query"] = auth.S3SigV4QueryAuth
        try:
            yield self
        finally:
            auth.get_current_datetime = saved_clock
            if saved_signer is not None:
                auth.AUTH_TYPE_MAPS["s3v4-query"] = saved_signer

    def presign(self, obj: S3Object, method: str, expires: int) -> str:
        """The URL botocore mints for ``obj`` (call inside :meth:`pinned`)."""
        region = obj.region or self.region
        style = "virtual" if _DNS_BUCKET.fullmatch(obj.bucket) else "path"
        params: dict[str, str] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            params["VersionId"] = obj.version_id
        operation = "put_object" if method == "PUT" else "get_object"
        url: str = self._client(region, style).generate_presigned_url(
            operation, Params=params, ExpiresIn=expires
        )
        return url
