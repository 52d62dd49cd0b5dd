"""The developer harness of the benchmarks: ``uv run python -m benchmarks.<name>``.

Each benchmark lives in :mod:`simulator.bench` (``fleetsim bench NAME``, in the installed tool
and the Docker image); the modules here are thin shims running the same code from a checkout,
except ``substitution`` (generated documents) and ``durable``. Results: ``RESULTS.md``.
"""
