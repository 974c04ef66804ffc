-- BLE people counters (BTHome count objects): the last count taken per device, so a
-- restart neither loses nor repeats the people counted meanwhile.
CREATE TABLE ble_counter_state (
    device_id TEXT PRIMARY KEY,
    value     REAL NOT NULL,
    at        REAL NOT NULL
);
