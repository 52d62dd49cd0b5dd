"""The thing registry: things, thing types, thing groups and membership (see :mod:`.things`)."""

from simulator.services.registry.model import Group, RegistryEvent, Thing
from simulator.services.registry.things import Registry

__all__ = ["Group", "Registry", "RegistryEvent", "Thing"]
