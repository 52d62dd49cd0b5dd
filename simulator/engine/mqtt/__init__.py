"""The devices' side of runs over a real MQTT broker (``fleetsim run SCENARIO --broker URI``).

Every device of the process gets its own connection (client id = thing name, QoS 1, a
persistent session by default) and runs the same :class:`~simulator.core.device.Device` state
machine as in process. The control plane they meet there is a plane of
:mod:`simulator.engine.planes` (the emulator embedded in the process, an external
``fleetsim serve --mqtt``, or AWS IoT); the run loop is :class:`simulator.engine.runner.Runner`.
Modules:

* :mod:`.link`: the devices' :class:`~simulator.core.device.DeviceIO` over the connection pool;
* :mod:`.ledger`: what the devices did (executions started, the rollout's message window);
* :mod:`.devices`: the connection pool of a run's devices, its checks and numbers;
* :mod:`.options`: broker, TLS, pacing, shard, control plane;
* :mod:`.provision`: setting a scenario up in an external control plane (boto3);
* :mod:`.elastic`, :mod:`.requests`: a fleet that grows and shrinks as Locust users come and go.
"""

from simulator.engine.mqtt.devices import BrokerDevices
from simulator.engine.mqtt.ledger import RunLedger
from simulator.engine.mqtt.link import DeviceTransport, MqttDeviceLink, device_topics
from simulator.engine.mqtt.options import MqttOptions, parse_control_plane, parse_source_addresses

__all__ = [
    "BrokerDevices",
    "DeviceTransport",
    "MqttDeviceLink",
    "MqttOptions",
    "RunLedger",
    "device_topics",
    "parse_control_plane",
    "parse_source_addresses",
]
