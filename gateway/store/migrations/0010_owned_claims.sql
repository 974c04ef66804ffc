-- Stores with several gateways: this gateway's own claims on devices, so that a
-- restart (even without the broker) keeps owning what it owned.
CREATE TABLE owned_claims (
    device_id TEXT PRIMARY KEY,
    claim     TEXT NOT NULL
);
