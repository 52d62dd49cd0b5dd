"""The locustfiles of ``fleetsim bench locust``: files run by ``locust -f FILE``, never imported by
the benchmark (importing locust gevent-patches the importing process).

* ``fleetsim_users.py``: client ``fleetsim``, our :class:`~simulator.locustrun.DeviceUser`;
* ``mqtt_users.py``: client ``locust-mqtt``, Locust's own ``MqttUser``, same workload;
* ``probe.py``: the measuring side both install (:func:`.probe.install_probe`).

:mod:`simulator.bench.locust` finds them by path, without importing ``simulator.locustrun``.
"""

__all__: list[str] = []
