-- Clusters that agents may connect for. Only the SHA-256 of an agent token is kept.
CREATE TABLE clusters (
    name               text PRIMARY KEY
                       CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    agent_token_sha256 text NOT NULL CHECK (length(agent_token_sha256) = 64),
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_seen          timestamptz,
    agent_version      text
);
