"""fleetsim: a fleet simulator and load tester for AWS IoT Jobs and the Software Package Catalog.

The command line (:mod:`simulator.cli`) is the product's entry point; each package's ``__all__``
is its public API (pinned by ``tests/test_public_api.py``).
"""

__all__: list[str] = []
