-- AgentIdP's audit queries: by agent and by action over a date range, newest first.
CREATE INDEX IF NOT EXISTS audit_events_actor_created_idx ON audit_events (actor_id, created_at DESC);
CREATE INDEX IF NOT EXISTS audit_events_type_created_idx ON audit_events (event_type, created_at DESC);
