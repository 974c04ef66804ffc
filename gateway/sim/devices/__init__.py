"""Simulated BLE devices: beacons, sensor tags and shelf labels."""
