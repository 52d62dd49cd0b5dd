"""Memoised readings of what a rollout sends every device: the job plan and URL expiries.

Devices of one rollout receive the same document (its presigned URLs are minted afresh once a
second), so reading it once per distinct document rather than once per device pays; both
functions are pure and the memos are bounded (cleared whole when full).
"""

from __future__ import annotations

import calendar
from typing import Any, Final

import orjson

from simulator.core.device.jobdoc import JobPlan, plan_job

__all__ = ["cached_plan", "presigned_expired", "presigned_expiry"]

_MEMO_SIZE: Final = 256
_PLANS: dict[bytes, JobPlan] = {}
_EXPIRIES: dict[str, int | None] = {}


def cached_plan(document: Any) -> JobPlan:
    """:func:`plan_job`, memoised on the document's JSON: every device of a rollout gets the
    same document (its presigned URLs change once a second), and a plan is immutable."""
    if type(document) is not dict:
        return plan_job(document)
    key = orjson.dumps(document)  # what orjson.loads built, orjson can dump
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _MEMO_SIZE:
            _PLANS.clear()
        plan = _PLANS[key] = plan_job(document)
    return plan


def presigned_expired(url: str, now: float) -> bool:
    """True for a SigV4 presigned URL whose ``X-Amz-Date + X-Amz-Expires`` is past ``now``."""
    try:
        expiry = _EXPIRIES[url]
    except KeyError:
        if len(_EXPIRIES) >= _MEMO_SIZE:
            _EXPIRIES.clear()
        expiry = _EXPIRIES[url] = presigned_expiry(url)
    return expiry is not None and now > expiry


def presigned_expiry(url: str) -> int | None:
    """``X-Amz-Date + X-Amz-Expires`` of a SigV4 presigned URL, ``None`` if it has none."""
    start = url.find("X-Amz-Date=")
    expires_at = url.find("X-Amz-Expires=")
    if start < 0 or expires_at < 0:
        return None
    stamp = url[start + 11 : start + 27]  # e.g. 20261127T015335Z
    end = url.find("&", expires_at)
    try:
        signed = calendar.timegm(
            (
                int(stamp[0:4]),
                int(stamp[4:6]),
                int(stamp[6:8]),
                int(stamp[9:11]),
                int(stamp[11:13]),
                int(stamp[13:15]),
            )
        )
        lifetime = int(url[expires_at + 14 : end if end > 0 else None])
    except ValueError:
        return None
    return signed + lifetime
