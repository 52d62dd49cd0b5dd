"""What substitution did during a run: documents compiled, renders, URLs, time in each phase.

An injected sink, not a global: the driver makes one :class:`SubstitutionStats` with its timer,
hands it to :func:`.prepare_job_document` and :func:`.render_for_device` (``stats=``), and reads
:meth:`SubstitutionStats.snapshot` for the report. The pure core reads no clock of its own; with
``stats=None`` (the default) nothing is counted and no timer is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SubstitutionSnapshot", "SubstitutionStats"]


@dataclass(frozen=True, slots=True)
class SubstitutionSnapshot:
    """The counters at one moment (what the run report's ``substitution`` section shows).

    Attributes:
        documents_prepared: CreateJob phase-one calls that succeeded (validate, compile, resolve).
        documents_compiled: of those, the documents compiled (the others were already compiled).
        prepare_s: time spent in phase one, failed calls included.
        renders: device fetches rendered (phase two) for documents with presigned URLs.
        render_cache_hits: renders answered with the document's previous render (same second,
            nothing that depends on the execution).
        urls_served: presigned URLs in the rendered documents (what devices received).
        urls_minted: SigV4 signatures computed for them (a URL is minted once per second).
        render_s: time spent in phase two.
    """

    documents_prepared: int = 0
    documents_compiled: int = 0
    prepare_s: float = 0.0
    renders: int = 0
    render_cache_hits: int = 0
    urls_served: int = 0
    urls_minted: int = 0
    render_s: float = 0.0


@dataclass(slots=True)
class SubstitutionStats:
    """Mutable counters filled by the substitution calls that are given this object.

    Args:
        timer: monotonic seconds (e.g. ``time.perf_counter``); injected so that the core stays
            clock-free and tests can count time deterministically.
    """

    timer: Callable[[], float]
    documents_prepared: int = 0
    documents_compiled: int = 0
    prepare_s: float = 0.0
    renders: int = 0
    render_cache_hits: int = 0
    urls_served: int = 0
    urls_minted: int = 0
    render_s: float = 0.0

    def snapshot(self) -> SubstitutionSnapshot:
        """A frozen copy of the counters."""
        return SubstitutionSnapshot(
            documents_prepared=self.documents_prepared,
            documents_compiled=self.documents_compiled,
            prepare_s=self.prepare_s,
            renders=self.renders,
            render_cache_hits=self.render_cache_hits,
            urls_served=self.urls_served,
            urls_minted=self.urls_minted,
            render_s=self.render_s,
        )
