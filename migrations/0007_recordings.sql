-- Recordings: every exchange as the client saw it (masked), grouped into sessions (a kubectl
-- invocation by its Kubectl-Session header, other clients by identity and connection). Bodies and
-- exec streams are stored as zlib-compressed chunks; exec/attach over WebSocket as asciicast v2
-- event lines. Retention deletes exchanges in small batches (their chunks go with them), then the
-- sessions left empty.
CREATE TABLE recording_sessions (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_key      text        NOT NULL UNIQUE,
    cluster          text        NOT NULL,
    username         text        NOT NULL,
    kubectl_command  text        NOT NULL DEFAULT '',
    started_at       timestamptz NOT NULL,
    last_at          timestamptz NOT NULL
);
CREATE INDEX recording_sessions_started ON recording_sessions (started_at);
CREATE INDEX recording_sessions_user ON recording_sessions (username, started_at);

CREATE TABLE recording_exchanges (
    id                  uuid        PRIMARY KEY,  -- the audit id (Audit-ID upstream)
    session_id          uuid        NOT NULL REFERENCES recording_sessions (id) ON DELETE CASCADE,
    kind                text        NOT NULL CHECK (kind IN ('http', 'exec', 'raw')),
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz,
    method              text        NOT NULL,
    request_uri         text        NOT NULL,
    request_headers     json        NOT NULL,
    response_code       integer,
    response_headers    json,
    request_bytes       bigint,
    request_sha256      text,
    request_truncated   boolean,
    response_bytes      bigint,
    response_sha256     text,
    response_truncated  boolean,
    terminal            json,      -- exec: {"width": W, "height": H} from the first resize
    exit_status         json       -- exec: the Status on the error channel
);
CREATE INDEX recording_exchanges_session ON recording_exchanges (session_id, started_at);
-- BRIN: rows arrive in time order, and retention is the only reader of this index.
CREATE INDEX recording_exchanges_started ON recording_exchanges USING brin (started_at);

CREATE TABLE recording_chunks (
    exchange_id  uuid    NOT NULL REFERENCES recording_exchanges (id) ON DELETE CASCADE,
    stream       text    NOT NULL CHECK (stream IN ('request', 'response', 'asciicast', 'from_client', 'from_cluster')),
    seq          integer NOT NULL,
    raw_bytes    integer NOT NULL,
    data         bytea   NOT NULL,  -- zlib
    PRIMARY KEY (exchange_id, stream, seq)
);
