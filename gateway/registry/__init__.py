"""The device registry: every known device, its latest state, online/offline."""

from gateway.registry.device import ChangeKind, DeviceChange, DeviceRecord
from gateway.registry.registry import Registry, RegistryOptions

__all__ = ["ChangeKind", "DeviceChange", "DeviceRecord", "Registry", "RegistryOptions"]
