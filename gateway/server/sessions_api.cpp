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
}  // namespace

bool is_sessions_api_path(const std::string& target) {
  if (target.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  return target.size() == kPrefix.size() || target[kPrefix.size()] == '/' || target[kPrefix.size()] == '?';
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
  struct Answer {
    int code;
    std::string content_type, body;
  };
  auto read = [id, what, filter](pqxx::connection& conn) -> Answer {
    auto not_found = [](const std::string& message) {
      return Answer{404, "application/json", common::make_status(404, message, "NotFound").dump()};
    };
    if (id.empty()) return {200, "application/json", nlohmann::json{{"items", store::list_sessions(conn, filter)}}.dump()};
    if (what == "asciicast") {
      std::ostringstream out;
      if (!store::write_asciicast(conn, id, out)) return not_found("no recorded exec session with id " + id);
      return {200, "application/x-asciicast", out.str()};
    }
    const auto s = store::session_detail(conn, id);
    if (s.is_null()) return not_found("no recorded session with id " + id);
    return {200, "application/json", s.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
  };
  database_.run(std::move(read), std::function<void(common::Result<Answer>)>([reply](common::Result<Answer> r) {
                  if (r) return reply(r->code, std::move(r.value().content_type), std::move(r.value().body));
                  spdlog::warn("sessions API: {}", r.error().message);  // the client gets no database detail
                  reply(503, "application/json",
                        common::make_status(503, "the recording store is unavailable; retry shortly", "ServiceUnavailable")
                            .dump());
                }));
}

}  // namespace sluice::gateway
