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
* **fsync policy: group commit.** No reply, MQTT reply or notification leaves before the records
  it may show are written and ``fdatasync``-ed; the records appended during one sync form the
  next batch. Acknowledged therefore means durable, at one sync per burst.
* **Restore replays the whole journal** (300,002 records for 100,000 things and a
  100,000-execution job: 4.9 s here, under a loaded machine). The journal is not compacted yet.

See :mod:`.state` (the directory, its checks, restore), :mod:`.journal` (what is recorded) and
:mod:`.log` (the file format and group commit).
"""

from simulator.api.durable.journal import JournaledPlane
from simulator.api.durable.state import Restored, Settings, StateDir, StateError

__all__ = ["JournaledPlane", "Restored", "Settings", "StateDir", "StateError"]
