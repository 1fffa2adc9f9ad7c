-- Checkpoint mode, a writer that proves its hints (issue 21): beside each checkpoint's tree range,
-- the range one event shorter. With the event at chain_position it recomputes the signed root, so
-- the next writer knows the table still holds that tree without reading it from the first row.
-- Like tree_range it is a hint: verification never reads it, and a writer that cannot prove it
-- recomputes the tree from the events.
ALTER TABLE agentkeys_audit_checkpoints ADD COLUMN IF NOT EXISTS prior_range jsonb;
