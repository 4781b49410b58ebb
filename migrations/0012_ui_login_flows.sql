-- The reviewer UI's OIDC logins in flight (gateway/ui/oidc_login.h): one row from the redirect to
-- the identity provider until its callback, so the callback may reach any replica. The state is
-- stored only as its SHA-256; a row is taken once and lives at most 10 minutes.
CREATE TABLE ui_login_flows (
  state_hash  text PRIMARY KEY,
  issuer      text NOT NULL,
  verifier    text NOT NULL,              -- the PKCE code verifier (RFC 7636)
  nonce       text NOT NULL,
  return_to   text NOT NULL,              -- a /ui/ path
  expires_at  timestamptz NOT NULL
);
CREATE INDEX ui_login_flows_expires ON ui_login_flows (expires_at);
