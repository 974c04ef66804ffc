-- Stores with several gateways: a result recorded here is reported only once this
-- gateway's claim on the label has told the other gateways (told = 1); otherwise a crash
-- in between would leave the label's next owner answering it too. Results recorded
-- before this column existed were reported as they were.
ALTER TABLE label_results ADD COLUMN told INTEGER NOT NULL DEFAULT 1;
-- A gateway that answers no target of a command still sends its final ack (contract
-- 1.1): ``finished`` says it did, so it is sent once.
ALTER TABLE label_commands ADD COLUMN finished INTEGER NOT NULL DEFAULT 0;
