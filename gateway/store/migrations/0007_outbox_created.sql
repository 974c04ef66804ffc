-- The age of the oldest buffered message is read after every batch of PUBACKs
-- (MIN(created)) and the TTL purge selects by age: both walked the whole
-- outbox without this index, 20 times a second during a drain.
CREATE INDEX outbox_created ON outbox (created);
