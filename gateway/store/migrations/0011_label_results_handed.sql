-- Stores with several gateways: a target of a label another gateway owns is answered
-- by that gateway. Here it is "handed" (since handed_at), neither open nor reported; it
-- is taken back if the label comes back before the other gateway answered it.
ALTER TABLE label_results ADD COLUMN handed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE label_results ADD COLUMN handed_at REAL;
CREATE INDEX label_results_label ON label_results (label_id, status);
