-- Checkpoint mode's append in one round trip (issue 11): events carry no signature, so the
-- database can link them itself. chain_digest keeps each row's chain digest (hex), computed by
-- the writer for every row it inserts, so the next append needs no second read; verification
-- never reads it (it recomputes every digest). The function takes the chain lock, reads the head,
-- links and inserts the events, all in the caller's single statement.
ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS chain_digest text;

CREATE OR REPLACE FUNCTION agentkeys_append_unsigned(lock_key bigint, events jsonb)
RETURNS TABLE (start_digest text, end_seq bigint, end_digest text)
LANGUAGE plpgsql AS $$
DECLARE
  h_seq bigint;
  h_digest text;
  first_digest text;
  e jsonb;
  d text;
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  IF EXISTS (SELECT 1 FROM audit_events WHERE chain_seq IS NULL LIMIT 1) THEN
    RAISE EXCEPTION 'audit_events has rows without chain_seq' USING ERRCODE = 'P0001';
  END IF;
  SELECT a.chain_seq, a.chain_digest INTO h_seq, h_digest FROM audit_events a ORDER BY a.chain_seq DESC LIMIT 1;
  IF h_seq IS NOT NULL AND h_digest IS NULL THEN
    -- A head written by another tool: the caller links on its side instead (and fills chain_digest).
    RAISE EXCEPTION 'the chain head has no chain_digest' USING ERRCODE = 'AK001';
  END IF;
  h_seq := COALESCE(h_seq, 0);
  first_digest := h_digest;
  FOR e IN SELECT value FROM jsonb_array_elements(events) LOOP
    d := encode(sha256(convert_to(e->>'canonical', 'UTF8') || COALESCE(decode(h_digest, 'hex'), ''::bytea)), 'hex');
    h_seq := h_seq + 1;
    INSERT INTO audit_events (id, actor_id, event_type, payload, signature, signer_kid, prev_hash, created_at, chain_seq, chain_digest)
    VALUES ((e->>'id')::uuid, e->>'actor_id', e->>'event_type', (e->>'canonical')::jsonb, NULL, NULL, h_digest,
            (e->>'created_at')::timestamptz, h_seq, d);
    h_digest := d;
  END LOOP;
  RETURN QUERY SELECT first_digest, h_seq, h_digest;
END
$$;
