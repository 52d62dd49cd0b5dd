"""Each device request paired with its answer, as a load tester counts them (sans-IO).

A device publishes a request with a fresh ``clientToken`` (``start-next``, an execution update, a
``$package`` shadow update) and AWS answers on the matching ``/accepted`` or ``/rejected`` topic
echoing the token. :class:`RequestTimer` is told of both (with the time) and turns each pair into
a :class:`Request`: its name (``start-next``, ``update IN_PROGRESS``, ``update SUCCEEDED``,
``shadow update $package``), the time from publish to answer, and the error for a rejection (the
AWS error code) or for no answer within the device's response timeout. An accepted terminal update
also yields ``job <jobId> <STATUS>`` whose time is the completion latency: from CreateJob (told
by :meth:`RequestTimer.job_created`) to the accepted terminal update.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

import orjson

__all__ = ["Request", "RequestTimer", "request_name"]

_TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "REJECTED"})


@dataclass(frozen=True, slots=True)
class Request:
    """One request/response pair (or a completion latency).

    Attributes:
        name: ``start-next``, ``update <STATUS>``, ``shadow update $package`` or
            ``job <jobId> <STATUS>``.
        response_ms: publish to answer (completion latency for ``job ...``), in milliseconds.
        length: bytes of the answer.
        error: None on success; ``rejected: <AWS error code>`` or ``timeout: ...`` otherwise.
    """

    name: str
    response_ms: float
    length: int
    error: str | None


def request_name(suffix: str, body: dict[str, object]) -> str:
    """The name a request on ``$aws/things/<thing>/<suffix>`` is counted under."""
    if suffix == "jobs/start-next":
        return "start-next"
    if suffix[:5] == "jobs/" and suffix[-7:] == "/update":
        return f"update {body.get('status')}"
    if suffix[:7] == "shadow/" and suffix[-7:] == "/update":
        shadow = suffix[12:-7] if suffix[:12] == "shadow/name/" else "classic"
        return f"shadow update {shadow}"
    return suffix


def _token(payload: bytes) -> tuple[dict[str, object] | None, str | None]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    token = body.get("clientToken")
    return body, token if isinstance(token, str) else None


class RequestTimer:
    """Pairs requests and answers by ``clientToken``; finished pairs queue in :attr:`done`.

    :attr:`done` is a deque: another thread may pop from it while this one appends.
    """

    __slots__ = (
        "_held",
        "_pending",
        "created",
        "done",
        "rejected",
        "requests",
        "timeout_s",
        "timeouts",
    )

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pending: dict[str, tuple[str, float, str]] = {}  # token -> (name, sent, suffix)
        self._held: list[tuple[str, str, float]] = []  # (job, status, at) awaiting job_created
        self.created: dict[str, float] = {}
        self.done: deque[Request] = deque()
        self.requests = 0  # pairs finished: answered, rejected or timed out
        self.rejected = 0
        self.timeouts = 0

    def sent(self, suffix: str, payload: bytes, now: float) -> None:
        """A device published ``payload`` on ``$aws/things/<thing>/<suffix>`` at ``now``."""
        body, token = _token(payload)
        if body is None or token is None:
            return
        self._pending[token] = (request_name(suffix, body), now, suffix)

    def answered(self, payload: bytes, now: float, *, accepted: bool) -> str | None:
        """An answer arrived on an ``/accepted`` (or ``/rejected``) topic at ``now``; returns
        the name of the request it answers (None: not one of ours, or counted as timed out)."""
        body, token = _token(payload)
        entry = None if token is None else self._pending.pop(token, None)
        if entry is None or body is None:
            return None
        name, sent, suffix = entry
        error = None
        self.requests += 1
        if not accepted:
            error = f"rejected: {body.get('code', 'unknown')}"
            self.rejected += 1
        self.done.append(Request(name, (now - sent) * 1000.0, len(payload), error))
        status = name[7:]
        if accepted and name[:7] == "update " and status in _TERMINAL:
            job = suffix[5:-7]
            created = self.created.get(job)
            if created is None:
                self._held.append((job, status, now))
            else:
                self._completed(job, status, now - created)
        return name

    def job_created(self, job: str, at: float) -> None:
        """CreateJob of ``job`` returned at ``at`` (epoch seconds)."""
        self.created[job] = at
        held, self._held = self._held, []
        for name, status, when in held:
            if name == job:
                self._completed(name, status, when - at)
            else:
                self._held.append((name, status, when))

    def _completed(self, job: str, status: str, latency: float) -> None:
        self.done.append(Request(f"job {job} {status}", max(0.0, latency) * 1000.0, 0, None))

    def expire(self, now: float) -> int:
        """Count requests unanswered for ``timeout_s`` as failed; returns how many."""
        limit = now - self.timeout_s
        expired = []
        for token, (name, sent, _) in self._pending.items():
            if sent > limit:
                break  # insertion order is send order
            expired.append(token)
            error = f"timeout: no answer in {self.timeout_s:g} s"
            self.done.append(Request(name, (now - sent) * 1000.0, 0, error))
        for token in expired:
            del self._pending[token]
        self.timeouts += len(expired)
        self.requests += len(expired)
        return len(expired)

    @property
    def pending(self) -> int:
        return len(self._pending)
