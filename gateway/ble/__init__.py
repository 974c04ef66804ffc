"""BLE: BlueZ supervision, one continuous scanner per adapter, advert ingest."""
