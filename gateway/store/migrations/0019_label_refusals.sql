-- Compressed containers a shelf label did not read (refused at the size command, or
-- every part taken and never confirmed), per label and firmware: its next write
-- starts with what it takes. A new firmware forgets them.
CREATE TABLE label_refusals (
    label_id  TEXT NOT NULL,
    firmware  INTEGER NOT NULL,
    container TEXT NOT NULL,
    at        REAL NOT NULL,
    PRIMARY KEY (label_id, container)
);
