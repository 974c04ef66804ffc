"""The BlueZ double: ``org.bluez`` on a D-Bus, as bluetoothd presents it to bleak."""

from gateway.sim.bluez.double import BlueZDouble

__all__ = ["BlueZDouble"]
