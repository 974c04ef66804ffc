-- A buffered message's age within one boot is measured on the time since boot
-- (which time sync never steps), across boots on the wall clock ("created").
-- Rows from before this migration have NULLs here and are aged on the wall clock.
ALTER TABLE outbox ADD COLUMN boot TEXT;        -- the kernel's boot id at production
ALTER TABLE outbox ADD COLUMN since_boot REAL;  -- CLOCK_BOOTTIME at production, seconds
-- The oldest message is now found by id (rows are only appended), so the index
-- on created (0007) serves nothing any more; it only slowed every insert.
DROP INDEX outbox_created;
