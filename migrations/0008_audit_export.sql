-- Audit export sinks (a rotating JSON-lines file, a webhook taking EventList batches) follow the
-- hash chains: a cursor per sink and chain says up to which link events were delivered. The audit
-- tables themselves are the outbox: a cursor moves only after its sink took the batch, so nothing
-- is lost while a sink is down, and delivery is at least once. A cursor row is locked (SKIP
-- LOCKED) while its batch is out, so replicas never deliver one chain at once; chains of gateways
-- that are gone are finished by the others.
CREATE TABLE audit_export_cursors (
    sink             text        NOT NULL,
    chain_id         uuid        NOT NULL,
    last_seq         bigint      NOT NULL DEFAULT 0,
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text        NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sink, chain_id)
);
