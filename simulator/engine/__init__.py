"""The drivers: a scenario's world, the run loop over a plane, and the load-test pieces.

Import the modules themselves: :mod:`.run` (``run_scenario``), :mod:`.runner` (the one run loop),
:mod:`.planes` (in-process, embedded on a broker, remote), :mod:`.world`, :mod:`.scenario`.
"""

__all__: list[str] = []
