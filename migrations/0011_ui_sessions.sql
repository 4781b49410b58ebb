-- The reviewer UI's logins (gateway/ui/): one row per browser session, so any replica serves it.
-- The cookie value itself is never stored, only its SHA-256; a stolen table opens no session.
CREATE TABLE ui_sessions (
  id_hash     text PRIMARY KEY,
  csrf_token  text NOT NULL,
  identity    jsonb NOT NULL,           -- user, uid, groups, extra, method (gateway/auth/identity.h)
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  ended_at    timestamptz               -- logout
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
