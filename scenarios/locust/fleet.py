"""Locust load test from a fleetsim scenario: one Locust user per virtual device.

    uv run locust -f scenarios/locust/fleet.py --headless -u 2000 -r 200 -t 5m \
        --scenario scenarios/quickstart.toml \
        --control-plane http://127.0.0.1:4566 --broker mqtt://127.0.0.1:1883 \
        --report-dir out/locust --csv out/locust/stats

Locust's -u is the number of devices, -r the connects per second; the rest (inventory, catalog,
jobs at their at_s from the test start, device behaviour, writers) comes from --scenario. See the
README, "Load testing with Locust".
"""

from simulator.locustrun import DeviceUser, install

install()

__all__ = ["DeviceUser"]
