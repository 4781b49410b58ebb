-- Outcomes move to their own append-only table, so an audit row is written once and never
-- updated. Measured with tests/bench/audit_writer_bench at the proxy's batch sizes, the UPDATE of
-- each row (and the half-empty pages that kept it HOT) cost PostgreSQL more than inserting a
-- narrow row; immutable rows are also what a hash chain over the trail needs. No foreign key:
-- an outcome is only written after its intent committed (or in the same statement, for a
-- refusal), and checking it would cost an index probe per row. Readers use the audit_log view.
CREATE TABLE audit_outcomes (
    received_at    timestamptz      NOT NULL,
    id             uuid             NOT NULL,
    response_code  integer          NOT NULL,
    duration_ms    double precision NOT NULL,
    bytes_in       bigint           NOT NULL,
    bytes_out      bigint           NOT NULL,
    finished_at    timestamptz      NOT NULL,
    PRIMARY KEY (received_at, id)
);
INSERT INTO audit_outcomes
SELECT received_at, id, response_code, coalesce(duration_ms, 0), coalesce(bytes_in, 0), coalesce(bytes_out, 0),
       coalesce(finished_at, received_at)
FROM audit_events WHERE response_code IS NOT NULL;
ALTER TABLE audit_events DROP COLUMN response_code, DROP COLUMN duration_ms, DROP COLUMN bytes_in,
    DROP COLUMN bytes_out, DROP COLUMN finished_at;
ALTER TABLE audit_events SET (fillfactor = 100);

-- One row per request, with its outcome once the exchange has ended (NULLs until then).
CREATE VIEW audit_log AS
SELECT e.*, o.response_code, o.duration_ms, o.bytes_in, o.bytes_out, o.finished_at
FROM audit_events e LEFT JOIN audit_outcomes o USING (received_at, id);
