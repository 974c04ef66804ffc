"""The virtual store: a double of BlueZ's D-Bus API serving simulated BLE devices."""
