// The recordings over REST, on the gateway's HTTPS listener and authenticated like the proxy; only
// members of recording.viewer_groups may read them:
//   GET /api/v1/sessions[?user=U&cluster=C&since=10m&limit=50]   sessions, newest last
//   GET /api/v1/sessions/ID                                      every exchange, with bodies
//   GET /api/v1/sessions/ID/asciicast                            an exec session (or exchange) as asciicast v2
// The reads are blocking libpqxx, so they run on store::Database's threads, never on an Asio thread.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "gateway/auth/identity.h"
#include "gateway/store/database.h"

namespace sluice::gateway {

bool is_sessions_api_path(const std::string& target);

class SessionsApi {
 public:
  using Reply = std::function<void(int code, std::string content_type, std::string body)>;
  SessionsApi(store::Database& database, std::vector<std::string> viewer_groups)
      : database_(database), viewer_groups_(std::move(viewer_groups)) {}

  // `reply` runs on a database thread (or at once for a refusal): post it to your strand.
  void serve(const std::string& method, const std::string& target, const Identity& who, Reply reply);

 private:
  store::Database& database_;
  std::vector<std::string> viewer_groups_;
};

}  // namespace sluice::gateway
