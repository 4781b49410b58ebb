-- Approval requests and their votes (#5). A request that policy marks `approve` is stored here
-- before a reviewer sees it; it reaches the cluster only once its row is `approved`, and the
-- same statement that lets it through makes it `executed`, so an approval executes at most once.
CREATE TABLE approval_requests (
    id                uuid        PRIMARY KEY,
    state             text        NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'executed', 'cancelled')),
    cluster           text        NOT NULL,
    requester         text        NOT NULL,
    requester_uid     text        NOT NULL DEFAULT '',
    requester_groups  text[]      NOT NULL DEFAULT '{}',
    auth_method       text        NOT NULL DEFAULT '',
    kubectl_command   text        NOT NULL DEFAULT '',
    kubectl_session   text        NOT NULL DEFAULT '',
    verb              text        NOT NULL,
    api_group         text        NOT NULL DEFAULT '',
    resource          text        NOT NULL DEFAULT '',
    subresource       text        NOT NULL DEFAULT '',
    namespace         text        NOT NULL DEFAULT '',
    name              text        NOT NULL DEFAULT '',
    method            text        NOT NULL,
    request_uri       text        NOT NULL,
    request_body      text        NOT NULL DEFAULT '',
    body_sha256       text        NOT NULL,
    rule              text        NOT NULL,
    message           text        NOT NULL DEFAULT '',
    approver_groups   text[]      NOT NULL DEFAULT '{}',
    approver_users    text[]      NOT NULL DEFAULT '{}',
    min_approvals     integer     NOT NULL CHECK (min_approvals BETWEEN 1 AND 20),
    mode              text        NOT NULL CHECK (mode IN ('hold', 'async')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    decided_at        timestamptz,
    decided_by        text        NOT NULL DEFAULT '',
    decision_reason   text        NOT NULL DEFAULT '',
    executed_at       timestamptz,
    preview           jsonb
);
CREATE INDEX approval_requests_pending ON approval_requests (created_at) WHERE state = 'pending';
CREATE INDEX approval_requests_requester ON approval_requests (requester, created_at DESC);

-- One vote per approver and request: min_approvals counts distinct people.
CREATE TABLE approval_votes (
    approval_id      uuid        NOT NULL REFERENCES approval_requests (id) ON DELETE CASCADE,
    approver         text        NOT NULL,
    approver_groups  text[]      NOT NULL DEFAULT '{}',
    vote             text        NOT NULL CHECK (vote IN ('approve', 'reject')),
    reason           text        NOT NULL DEFAULT '',
    voted_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (approval_id, approver)
);
