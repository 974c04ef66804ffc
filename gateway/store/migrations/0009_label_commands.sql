-- The type of each label command with results still to report, so that the acks
-- sent after a restart carry it too.
CREATE TABLE label_commands (
    command_id TEXT PRIMARY KEY,
    type       TEXT NOT NULL
);
