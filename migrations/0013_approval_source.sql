-- Where a held request came from (the client's address as the gateway believes it, its
-- User-Agent), so a reviewer sees "from where" beside "who" (gateway/ui's approval page).
ALTER TABLE approval_requests ADD COLUMN source_ip text NOT NULL DEFAULT '',
                              ADD COLUMN user_agent text NOT NULL DEFAULT '';
