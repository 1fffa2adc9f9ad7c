-- Checkpoint mode (agentkeys): signed C2SP checkpoints of the chain's RFC 6962 tree, kept beside
-- audit_events so a dropped tail is caught without an anchor file. tree_state is the writer's
-- hint for extending the tree (its position is a chain_seq); verification reads only the note.
CREATE TABLE IF NOT EXISTS agentkeys_audit_checkpoints (
  tree_size bigint NOT NULL CHECK (tree_size >= 0),
  chain_position bigint NOT NULL,
  tree_range jsonb NOT NULL,
  note text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS agentkeys_audit_checkpoints_size_idx ON agentkeys_audit_checkpoints (tree_size DESC);
