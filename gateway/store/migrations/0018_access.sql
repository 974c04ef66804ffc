-- Technicians' access (the users of the page and the API) kept on the box. Users in the
-- configuration seed this table once; from then on `store-gateway users` and the page
-- change it. Passwords as scrypt hashes; a second factor's TOTP secret and the last
-- time step used (a code is never taken twice).
CREATE TABLE web_users (
    name             TEXT PRIMARY KEY,
    role             TEXT NOT NULL,          -- viewer | technician | admin
    password_hash    TEXT NOT NULL,
    disabled         INTEGER NOT NULL DEFAULT 0,
    totp_secret      TEXT,                   -- base32; NULL: no second factor set up
    totp_last_step   INTEGER,
    created_at       REAL NOT NULL,
    changed_at       REAL NOT NULL,
    password_at      REAL NOT NULL           -- when the password was last set
);

-- A second factor's recovery codes, as salted SHA-256; a used one keeps its row.
CREATE TABLE web_recovery_codes (
    name      TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    used_at   REAL,
    PRIMARY KEY (name, code_hash)
);

-- What people did on the gateway (contract 1.2 audit.action), kept 90 days by default.
CREATE TABLE audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            REAL NOT NULL,
    actor         TEXT,
    role          TEXT,
    action        TEXT NOT NULL,
    target        TEXT,
    via           TEXT NOT NULL,             -- page | api | cli
    from_address  TEXT,
    second_factor INTEGER NOT NULL,
    ok            INTEGER NOT NULL,
    detail        TEXT,
    told          INTEGER NOT NULL DEFAULT 1 -- 0: changed on a stopped gateway, told at start
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, at);
