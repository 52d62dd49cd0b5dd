"""The emulator on a real MQTT broker (layer 2): the bridge and the Mosquitto configuration.

* :mod:`.bridge`: :class:`Bridge`, K connections from the emulator to the broker that serve the
  Jobs and Shadow request topics and publish the services' broadcasts;
* :mod:`.client`: :class:`~.client.BrokerClient`, one of those connections kept open (dial,
  subscribe, back off, reconnect) around :class:`simulator.transport.mqtt.Connection`, the
  same MQTT client the simulated devices use;
* :mod:`.mosquitto`: ``fleetsim broker-config``'s writer: ``mosquitto.conf``, the per-thing
  ACL and (with TLS) certificates from :mod:`simulator.transport.certs`.

Like every transport, it imports core, services and other transports, never the API layer:
``fleetsim serve`` hands the bridge :class:`simulator.api.mqtt.dispatch.MqttApi` as its
:class:`RequestHandler`.
"""

from simulator.transport.broker.bridge import (
    REQUEST_FILTERS,
    Bridge,
    BridgeConfig,
    BridgeStats,
    RequestHandler,
    partition_filters,
)
from simulator.transport.broker.mosquitto import (
    DEVICE_PATTERN,
    BrokerFiles,
    BrokerLayout,
    write_broker_config,
)

__all__ = [
    "DEVICE_PATTERN",
    "REQUEST_FILTERS",
    "Bridge",
    "BridgeConfig",
    "BridgeStats",
    "BrokerFiles",
    "BrokerLayout",
    "RequestHandler",
    "partition_filters",
    "write_broker_config",
]
