-- Identical retries (#5): an approved request passes once more when the same identity sends the
-- same request (cluster, method, path and query, body hash) within the approval's time to live,
-- counted from the decision. This index finds that request, or a pending or rejected twin,
-- without a scan.
CREATE INDEX approval_requests_identical ON approval_requests (requester, cluster, body_sha256)
    WHERE state IN ('pending', 'approved', 'rejected');

-- Notifications to reviewers (#5), written in the same transaction as the approval they announce,
-- so a gateway that stops between the two loses none. One row per sink: each sink retries on its
-- own schedule (exponential backoff), and delivery claims rows with SKIP LOCKED so several
-- gateway replicas never send the same row at once.
CREATE TABLE notification_outbox (
    id               bigserial   PRIMARY KEY,
    sink             text        NOT NULL,
    event            text        NOT NULL,
    approval_id      uuid        REFERENCES approval_requests (id) ON DELETE CASCADE,
    payload          json        NOT NULL,
    state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    last_error       text        NOT NULL DEFAULT ''
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state = 'pending';

-- Audit rows reference the approval that let their request through, or refused it (#5).
ALTER TABLE audit_events ADD COLUMN approval_id uuid;
CREATE INDEX audit_events_approval ON audit_events (approval_id) WHERE approval_id IS NOT NULL;
DROP VIEW audit_log;  -- e.* was expanded when it was made: make it again to take the column
CREATE VIEW audit_log AS
SELECT e.*, o.response_code, o.duration_ms, o.bytes_in, o.bytes_out, o.finished_at
FROM audit_events e LEFT JOIN audit_outcomes o USING (received_at, id);
