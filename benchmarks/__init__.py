"""Benchmarks: one module per benchmark, each prints a table or, with ``--json``, one JSON object.

Run one with ``uv run python -m benchmarks.<name>``; results are recorded in ``RESULTS.md``.
"""
