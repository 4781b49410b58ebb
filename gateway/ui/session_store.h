// The reviewer UI's sessions in PostgreSQL (ui_sessions), so any gateway replica serves a login.
// The row holds the identity the login established, as the authenticators built it; the cookie
// value is only ever stored as its SHA-256.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "gateway/auth/identity.h"
#include "gateway/store/database.h"

namespace sluice::gateway::ui {

struct Session {
  Identity who;
  std::string csrf_token;
  std::string expires_at;  // RFC 3339
};

class SessionStore {
 public:
  SessionStore(store::Database& database, long ttl_seconds) : database_(database), ttl_seconds_(ttl_seconds) {}
  long ttl_seconds() const { return ttl_seconds_; }

  // A new session; `done` gets the cookie value with it. Callbacks run on a database thread.
  using Created = std::pair<std::string, Session>;
  void create(const Identity& who, std::function<void(common::Result<Created>)> done);
  // The live session of a cookie value: nullopt when unknown, ended or expired.
  void find(const std::string& cookie_value, std::function<void(common::Result<std::optional<Session>>)> done);
  void end(const std::string& cookie_value, std::function<void(common::Result<common::Done>)> done);

 private:
  store::Database& database_;
  long ttl_seconds_;
};

}  // namespace sluice::gateway::ui
