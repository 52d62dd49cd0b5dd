"""Network transports that carry the device state machines over real sockets (layer 2).

:mod:`simulator.transport.mqtt` holds one MQTT 3.1.1 connection per simulated device against a
real broker (Mosquitto or AWS IoT Core). Transports may import :mod:`simulator.core` and
:mod:`simulator.services`, never the API layer, the engine or the commands.
"""

__all__: list[str] = []
