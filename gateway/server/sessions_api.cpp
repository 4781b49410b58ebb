#include "gateway/server/sessions_api.h"

#include <boost/algorithm/string/join.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "common/k8s_status.h"
#include "common/request_info.h"
#include "gateway/audit/audit_event.h"
#include "gateway/store/recording_store.h"

namespace sluice::gateway {
namespace {
constexpr std::string_view kPrefix = "/api/v1/sessions";
constexpr std::size_t kMaxQueued = 64;
}  // namespace

bool is_sessions_api_path(const std::string& target) {
  if (target.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  return target.size() == kPrefix.size() || target[kPrefix.size()] == '/' || target[kPrefix.size()] == '?';
}

SessionsApi::SessionsApi(std::string database_url, std::vector<std::string> viewer_groups)
    : database_url_(std::move(database_url)), viewer_groups_(std::move(viewer_groups)), thread_([this] { work(); }) {}

SessionsApi::~SessionsApi() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SessionsApi::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void SessionsApi::serve(const std::string& method, const std::string& target, const Identity& who, Reply reply) {
  auto status = [&reply](int code, const std::string& message, const std::string& reason) {
    reply(code, "application/json", common::make_status(code, message, reason).dump());
  };
  if (method != "GET") return status(405, "recordings are read-only: use GET", "MethodNotAllowed");
  if (!in_any_group(who, viewer_groups_))
    return status(403, "reading recordings needs membership in one of the groups " + boost::join(viewer_groups_, ", ") +
                           " (recording.viewer_groups); " + who.user + " has none of them", "Forbidden");
  const auto q = target.find('?');
  std::string rest = target.substr(kPrefix.size(), q == std::string::npos ? std::string::npos : q - kPrefix.size());
  if (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  const auto query = common::decode_query(q == std::string::npos ? "" : target.substr(q + 1)).params;
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string what = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (!what.empty() && what != "asciicast") return status(404, "no such recording resource: " + what, "NotFound");
  store::SessionQuery filter;
  filter.user = common::query_value(query, "user").value_or("");
  filter.cluster = common::query_value(query, "cluster").value_or("");
  if (auto since = common::query_value(query, "since")) {
    filter.since = audit::since_to_timestamp(*since);
    if (filter.since.empty()) return status(400, "since takes a duration (10m, 2h) or a timestamp", "BadRequest");
  }
  if (auto limit = common::query_value(query, "limit")) {
    filter.limit = std::atoi(limit->c_str());
    if (filter.limit < 1 || filter.limit > 10000) return status(400, "limit must be between 1 and 10000", "BadRequest");
  }
  std::lock_guard lock(mu_);
  if (jobs_.size() >= kMaxQueued) {
    return reply(503, "application/json",
                 common::make_status(503, "too many recording reads at once; retry shortly", "ServiceUnavailable").dump());
  }
  jobs_.push_back([this, id, what, filter, reply = std::move(reply)] {
    auto fail = [&reply](int code, const std::string& message, const std::string& reason) {
      reply(code, "application/json", common::make_status(code, message, reason).dump());
    };
    try {
      if (id.empty()) {
        return reply(200, "application/json", nlohmann::json{{"items", store::list_sessions(database_url_, filter)}}.dump());
      }
      if (what == "asciicast") {
        std::ostringstream out;
        if (!store::write_asciicast(database_url_, id, out))
          return fail(404, "no recorded exec session with id " + id, "NotFound");
        return reply(200, "application/x-asciicast", out.str());
      }
      const auto s = store::session_detail(database_url_, id);
      if (s.is_null()) return fail(404, "no recorded session with id " + id, "NotFound");
      reply(200, "application/json", s.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } catch (const std::exception& e) {
      spdlog::warn("sessions API: {}", e.what());
      fail(503, "the recording store is unavailable", "ServiceUnavailable");
    }
  });
  wake_.notify_one();
}

}  // namespace sluice::gateway
