-- A request's identity for approval includes how its body is to be read: the same bytes sent as
-- application/json-patch+json and as application/merge-patch+json do different things, so a
-- second request may join an approval only with the same Content-Type and Content-Encoding.
-- Rows from before this migration have neither ('') and match only requests without them.
ALTER TABLE approval_requests ADD COLUMN content_type text NOT NULL DEFAULT '',
    ADD COLUMN content_encoding text NOT NULL DEFAULT '';
