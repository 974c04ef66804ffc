"""The cloud bridge: MQTT connection, durable outbox, publisher, contract lifecycle."""
