"""Fleet runs over a real MQTT broker: ``fleetsim run SCENARIO --broker URI``.

::

    from simulator.engine.mqtt import MqttOptions, run_mqtt_scenario
    from simulator.transport.mqtt import parse_broker_uri

    result = run_mqtt_scenario(scenario, MqttOptions(broker=parse_broker_uri("mqtt://127.0.0.1:1883")))

Every device of the process gets its own connection (client id = thing name, QoS 1, a
persistent session by default) and runs the same :class:`~simulator.core.device.Device` state
machine as in process; the control plane is the emulator embedded in the process on its own
bridge connection(s) (:class:`MqttWorld`), an external ``fleetsim serve --mqtt``, or AWS IoT
(:class:`simulator.engine.remote.RemotePlane`). Modules:

* :mod:`.clock`: the event heap on the wall clock;
* :mod:`.link`: the devices' :class:`~simulator.core.device.DeviceIO` over the connection pool;
* :mod:`.world`: the embedded emulator's world on the bridge;
* :mod:`.plane`: what the run needs of a control plane;
* :mod:`.options`: broker, TLS, pacing, shard, control plane;
* :mod:`.provision`: setting a scenario up in an external control plane (boto3);
* :mod:`.runner`: the run loop and its report.
"""

from simulator.engine.mqtt.clock import WallClockHeap
from simulator.engine.mqtt.link import DeviceTransport, MqttDeviceLink, RunLedger, device_topics
from simulator.engine.mqtt.options import MqttOptions, parse_control_plane, parse_source_addresses
from simulator.engine.mqtt.plane import EmbeddedPlane, JobInfo, Plane
from simulator.engine.mqtt.runner import MqttRun, real_clock, run_mqtt_scenario
from simulator.engine.mqtt.world import MqttWorld

__all__ = [
    "DeviceTransport",
    "EmbeddedPlane",
    "JobInfo",
    "MqttDeviceLink",
    "MqttOptions",
    "MqttRun",
    "MqttWorld",
    "Plane",
    "RunLedger",
    "WallClockHeap",
    "device_topics",
    "parse_control_plane",
    "parse_source_addresses",
    "real_clock",
    "run_mqtt_scenario",
]
