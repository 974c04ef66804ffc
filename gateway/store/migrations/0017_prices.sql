-- The price guard (contract 1.2). Every version of a SKU's price the gateway took in,
-- and what became of it: applied (the SKU's history, which the rules compare with; the
-- newest applied version is the SKU's current price), held (waiting for a person's
-- review), discarded or superseded (held, and never applied). It replaces sku_items,
-- which kept the newest applied version only.
CREATE TABLE price_versions (
    sku          TEXT NOT NULL,
    version      INTEGER NOT NULL,
    state        TEXT NOT NULL,         -- applied | held | discarded | superseded
    item         TEXT NOT NULL,         -- the command's item as JSON
    command_id   TEXT,
    accepted_at  REAL NOT NULL,         -- POSIX seconds: taken in (judged)
    effective_at REAL,                  -- applied: when it took effect (valid_from if later)
    rules        TEXT,                  -- JSON: the rules it broke, with their figures
    decided_at   REAL,
    decided_by   TEXT,                  -- "cloud", "gateway" or the person's user name
    origin       TEXT,                  -- page (here) | peer (another gateway's page) |
                                        -- cloud | gateway (superseded)
    note         TEXT,
    PRIMARY KEY (sku, version)
);
CREATE INDEX price_versions_state ON price_versions (state, effective_at);
CREATE INDEX price_versions_decided ON price_versions (origin, decided_at);

INSERT INTO price_versions (sku, version, state, item, command_id, accepted_at, effective_at)
SELECT sku, version, 'applied', item, command_id, received_at,
       MAX(received_at, COALESCE(valid_from, received_at))
FROM sku_items;
DROP TABLE sku_items;

-- The rules a signed price-rules command set (one row; none: the configuration's).
CREATE TABLE price_rules (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    INTEGER NOT NULL,
    rules      TEXT NOT NULL,           -- JSON, as the command's body.rules
    currency   TEXT,
    command_id TEXT NOT NULL,
    set_at     REAL NOT NULL
);

-- Decisions on a held price that arrived before this gateway held it (another gateway's
-- page, or the cloud, was quicker than the price-update): applied once it is held.
CREATE TABLE price_decisions (
    sku      TEXT NOT NULL,
    version  INTEGER NOT NULL,
    decision TEXT NOT NULL,             -- release | discard
    by_whom  TEXT NOT NULL,
    origin   TEXT NOT NULL,
    note     TEXT,
    at       REAL NOT NULL,
    PRIMARY KEY (sku, version)
);

-- When each label confirmed a price (the shelf's time to shelf, over the last day):
-- since = the price's acceptance, or its valid_from if later.
CREATE TABLE shelf_times (
    label_id TEXT NOT NULL,
    sku      TEXT NOT NULL,
    version  INTEGER NOT NULL,
    since    REAL NOT NULL,
    shown_at REAL NOT NULL,
    PRIMARY KEY (label_id, sku, version)
);
CREATE INDEX shelf_times_shown ON shelf_times (shown_at);
