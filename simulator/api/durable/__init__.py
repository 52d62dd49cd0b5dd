"""Durable state for ``fleetsim serve --state-dir``: a journal of the service calls, replayed.

Design, and why (numbers in benchmarks/RESULTS.md, "fleetsim serve --state-dir"):

* **Command sourcing at the service boundary** rather than a store of the state: one hook (a
  view of the control plane the HTTP and MQTT APIs dispatch to, :mod:`.journal`) makes every
  service durable, present and future, with no second model of catalog, registry, jobs,
  shadows, index and security. Time, timer firings and issued certificates are recorded with
  each call, so replay reproduces ids, ARNs, versions and timestamps exactly, and rollouts,
  timeouts and schedules continue where they were.
* **An append-only file with checksummed frames**, not SQLite: measured, a commit costs the same
  (the disk's sync dominates: 2.4-5.8 ms either way here) and SQLite spends more CPU per record
  (17-23 µs against 15-17 µs). A torn tail is recognised and dropped (:mod:`.log`).
* **fsync policy: group commit, two syncs in flight.** No reply, MQTT reply or notification
  leaves before an ``fdatasync`` that started after its records were written has returned:
  acknowledged means durable. The event loop writes each batch itself (into the page cache) and
  hands the ``fdatasync`` to one of two syncer *processes*; the records appended meanwhile form
  the next batch, which the other syncer starts on at once. ``fdatasync`` covers every page
  written before the call, so a completion releases its own batch and any earlier one still in
  flight, in append order. A write arriving during a sync thus waits about one sync, not up to
  two; with a sync thread
  instead of processes, each completion waited for the loop thread to yield the GIL and a
  durable write cost 30-60 µs more server CPU against 20-45 µs (:mod:`.commit`). The journal
  only appends (no preallocation), which keeps the torn-tail rules of :mod:`.log` sound for a
  power cut as well as a SIGKILL.
* **Compaction by snapshot, taken in a forked child** once the journal holds 64 MB
  (``--compact-journal-mb``) and at a clean shutdown: the control plane is pickled as it is,
  the process's clock, scheduler, publisher, issuer and options bound by reference, so a
  snapshot needs no second model of the services either. The loop pauses only for the fork;
  the journal moves to a new file at the same instant, and the old snapshot and journals stay
  until the new snapshot is synced and renamed into place (:mod:`.compaction`,
  :mod:`.snapshot`). Restore loads the newest snapshot and replays the journals since.

See :mod:`.state` (the directory, its checks, restore), :mod:`.journal` (what is recorded),
:mod:`.log` (the file format, torn tails), :mod:`.commit` (group commit), :mod:`.compaction` and
:mod:`.snapshot`.
"""

from simulator.api.durable.journal import JournaledPlane
from simulator.api.durable.state import Restored, Settings, StateDir, StateError

__all__ = ["JournaledPlane", "Restored", "Settings", "StateDir", "StateError"]
