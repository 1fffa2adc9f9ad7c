-- What a linear chain needs, added beside Agent Manager's columns (agent-manager-audit-format.md §9.3):
--  * chain_seq: the 1-based position in the chain, assigned by the writer under an advisory lock;
--    existing rows are numbered in Agent Manager's own order (created_at, then id).
--  * one row per prev_hash, and one genesis row: a second writer that forgets the lock (Agent
--    Manager's own signer reads the head without one) gets a unique violation instead of a fork.
ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS chain_seq bigint;

UPDATE audit_events AS e
   SET chain_seq = n.seq
  FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS seq FROM audit_events) AS n
 WHERE e.id = n.id AND e.chain_seq IS NULL;

CREATE UNIQUE INDEX IF NOT EXISTS audit_events_chain_seq_key ON audit_events (chain_seq);
CREATE UNIQUE INDEX IF NOT EXISTS audit_events_prev_hash_key ON audit_events (prev_hash) WHERE prev_hash IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS audit_events_single_genesis_key ON audit_events ((prev_hash IS NULL)) WHERE prev_hash IS NULL;
-- Rows inserted later by a writer that does not know chain_seq are found quickly and refused.
CREATE INDEX IF NOT EXISTS audit_events_unsequenced_idx ON audit_events (created_at) WHERE chain_seq IS NULL;
