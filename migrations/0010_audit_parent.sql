-- Requests the gateway itself sends for a client's request (policy dry runs, live-object reads,
-- approval previews) have audit rows of their own; parent_id names the client request's row.
-- It is part of the row's hashed content when set (gateway/audit/audit_chain.cpp), so older rows,
-- which have none, still verify.
ALTER TABLE audit_events ADD COLUMN parent_id uuid;
CREATE INDEX audit_events_parent ON audit_events (parent_id) WHERE parent_id IS NOT NULL;
-- Their decision is 'gateway': the gateway sent them itself, nobody's policy decision let them through.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_decision_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_decision_check CHECK (decision IN ('allowed', 'denied', 'gateway'));
