-- People counters' periods (energy): each period of each counting line once.
CREATE TABLE footfall_periods (
    counter_id  TEXT NOT NULL,
    line        TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL NOT NULL,
    entered     INTEGER NOT NULL,
    left_       INTEGER NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (counter_id, line, start, end)
);
CREATE INDEX footfall_periods_time ON footfall_periods (start, end);
