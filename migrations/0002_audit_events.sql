-- One row per request that reached the pipeline with an identity: the intent, committed before the
-- request enters the tunnel, and its outcome, filled in when the exchange ends. The primary key
-- leads with the time, so inserts append and retention deletes whole ranges; a BRIN index serves
-- time scans cheaply. Inserts are idempotent (ON CONFLICT DO NOTHING) so a retried batch never
-- duplicates a row. Each row is updated once, with its outcome: fillfactor 50 leaves room on the
-- page so that update is HOT (no new index entries), which halves the audit's cost per request.
CREATE TABLE audit_events (
    received_at        timestamptz NOT NULL,
    id                 uuid        NOT NULL,
    cluster            text        NOT NULL,
    username           text        NOT NULL,
    uid                text        NOT NULL DEFAULT '',
    groups             text[]      NOT NULL DEFAULT '{}',
    auth_method        text        NOT NULL,
    source_ip          text        NOT NULL,
    user_agent         text        NOT NULL DEFAULT '',
    kubectl_command    text        NOT NULL DEFAULT '',
    kubectl_session    text        NOT NULL DEFAULT '',
    verb               text        NOT NULL,
    api_group          text        NOT NULL DEFAULT '',
    api_version        text        NOT NULL DEFAULT '',
    resource           text        NOT NULL DEFAULT '',
    subresource        text        NOT NULL DEFAULT '',
    namespace          text        NOT NULL DEFAULT '',
    name               text        NOT NULL DEFAULT '',
    request_uri        text        NOT NULL,
    dry_run            boolean     NOT NULL DEFAULT false,
    decision           text        NOT NULL CHECK (decision IN ('allowed', 'denied')),
    decision_reason    text        NOT NULL DEFAULT '',
    response_code      integer,
    duration_ms        double precision,
    bytes_in           bigint,
    bytes_out          bigint,
    finished_at        timestamptz,
    PRIMARY KEY (received_at, id)
) WITH (fillfactor = 50);
CREATE INDEX audit_events_received_brin ON audit_events USING brin (received_at);
CREATE INDEX audit_events_cluster_time ON audit_events (cluster, received_at DESC);
CREATE INDEX audit_events_user_time ON audit_events (username, received_at DESC);
CREATE INDEX audit_events_object ON audit_events (namespace, resource, name);
