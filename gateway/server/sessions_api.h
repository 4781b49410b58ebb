// The recordings over REST, on the gateway's HTTPS listener and authenticated like the proxy; only
// members of recording.viewer_groups may read them:
//   GET /api/v1/sessions[?user=U&cluster=C&since=10m&limit=50]   sessions, newest last
//   GET /api/v1/sessions/ID                                      every exchange, with bodies
//   GET /api/v1/sessions/ID/asciicast                            an exec session (or exchange) as asciicast v2
// The reads are blocking libpqxx, so they run on this API's own thread, never on an Asio thread.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/auth/identity.h"

namespace sluice::gateway {

bool is_sessions_api_path(const std::string& target);

class SessionsApi {
 public:
  using Reply = std::function<void(int code, std::string content_type, std::string body)>;
  SessionsApi(std::string database_url, std::vector<std::string> viewer_groups);
  ~SessionsApi();
  SessionsApi(const SessionsApi&) = delete;
  SessionsApi& operator=(const SessionsApi&) = delete;

  // `reply` runs on this API's thread (or at once for a refusal): post it to your strand.
  void serve(const std::string& method, const std::string& target, const Identity& who, Reply reply);

 private:
  void work();
  std::string database_url_;
  std::vector<std::string> viewer_groups_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::gateway
