-- Tamper evidence: every audit row (intent and outcome alike) is a link of a hash chain. Each
-- gateway's audit writer starts its own chain (chain_id) and numbers its rows (chain_seq) in the
-- order it writes them; row_hash = SHA-256 of prev_hash, a newline and the row's content as the
-- writer sent it (gateway/audit/audit_chain.h). `sluice-gateway audit verify` recomputes every
-- link: an edited row no longer matches its hash, a deleted one leaves a gap in chain_seq. Rows
-- written before this migration carry no chain (NULL) and are reported as such.
ALTER TABLE audit_events ADD COLUMN chain_id uuid, ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash text,
    ADD COLUMN row_hash text;
ALTER TABLE audit_outcomes ADD COLUMN chain_id uuid, ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash text,
    ADD COLUMN row_hash text;
CREATE INDEX audit_events_chain ON audit_events (chain_id, chain_seq);
CREATE INDEX audit_outcomes_chain ON audit_outcomes (chain_id, chain_seq);
