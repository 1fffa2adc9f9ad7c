-- Agent Manager's audit_events table, as agent-manager/db/migrations/0001_create_agent_manager_tables.sql
-- defines it (agent-manager-audit-format.md §3). IF NOT EXISTS: an existing Agent Manager database is
-- adopted in place, never recreated. gen_random_uuid() is built into PostgreSQL 13+.
CREATE TABLE IF NOT EXISTS audit_events (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  actor_id    text,
  event_type  text NOT NULL,
  payload     jsonb DEFAULT '{}'::jsonb,
  signature   text,
  signer_kid  text,
  prev_hash   text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS audit_events_created_at_idx ON audit_events (created_at);
