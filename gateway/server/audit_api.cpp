#include "gateway/server/audit_api.h"

#include <boost/algorithm/string/join.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>

#include "common/k8s_status.h"
#include "common/request_info.h"
#include "gateway/audit/audit_chain.h"
#include "gateway/audit/audit_event.h"
#include "gateway/audit/k8s_audit_event.h"
#include "gateway/store/audit_store.h"

namespace sluice::gateway {
namespace {
constexpr std::string_view kPrefix = "/api/v1/audit";
constexpr int kExportPage = 500;

struct Parsed {
  std::string what;  // "", "export", "verify"
  common::QueryParams query;
};

Parsed parse(const std::string& target) {
  const auto q = target.find('?');
  std::string rest = target.substr(kPrefix.size(), q == std::string::npos ? std::string::npos : q - kPrefix.size());
  if (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  return {rest, common::decode_query(q == std::string::npos ? "" : target.substr(q + 1)).params};
}

// since/until as timestamps; false with `error` set for a value that is neither a duration nor a time.
bool window(const common::QueryParams& query, std::string& since, std::string& until, std::string& error) {
  for (auto [key, into] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
    auto given = common::query_value(query, key);
    if (!given || given->empty()) continue;
    *into = audit::since_to_timestamp(*given);
    if (into->empty()) {
      error = std::string(key) + " takes a duration (30s, 10m, 2h, 7d: that long ago) or a timestamp (2026-11-25T10:00:00Z)";
      return false;
    }
  }
  return true;
}
}  // namespace

bool is_audit_api_path(const std::string& target) {
  if (target.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  return target.size() == kPrefix.size() || target[kPrefix.size()] == '/' || target[kPrefix.size()] == '?';
}

bool AuditApi::is_export(const std::string& target) { return is_audit_api_path(target) && parse(target).what == "export"; }

void AuditApi::serve(const std::string& method, const std::string& target, const Identity& who, Reply reply) {
  auto status = [&reply](int code, const std::string& message, const std::string& reason) {
    reply(code, "application/json", common::make_status(code, message, reason).dump());
  };
  if (method != "GET") return status(405, "the audit trail is read-only: use GET", "MethodNotAllowed");
  if (!in_any_group(who, viewer_groups_))
    return status(403, "reading the audit trail needs membership in one of the groups " + boost::join(viewer_groups_, ", ") +
                           " (audit.viewer_groups); " + who.user + " has none of them", "Forbidden");
  const Parsed p = parse(target);
  store::AuditQuery q;
  std::string error;
  if (!window(p.query, q.since, q.until, error)) return status(400, error, "BadRequest");
  if (p.what == "verify") {
    const std::string since = q.since;
    return database_.run(
        [since](pqxx::connection& conn) -> nlohmann::json {
          const auto report = audit::verify_audit_chain(conn, since);
          return {{"intact", !report.broken}, {"rows", report.rows}, {"chains", report.chains},
                  {"unchained", report.unchained}, {"broken", report.broken ? nlohmann::json(*report.broken) : nullptr}};
        },
        std::function<void(common::Result<nlohmann::json>)>([reply](common::Result<nlohmann::json> r) {
          if (!r) return reply(r.error().code, "application/json",
                               common::make_status(r.error().code, r.error().message, "ServiceUnavailable").dump());
          reply(200, "application/json", r->dump());
        }));
  }
  if (!p.what.empty()) return status(404, "no such audit resource: " + p.what + " (search, export or verify)", "NotFound");
  q.cluster = common::query_value(p.query, "cluster").value_or("");
  q.user = common::query_value(p.query, "user").value_or("");
  q.verb = common::query_value(p.query, "verb").value_or("");
  q.resource = common::query_value(p.query, "resource").value_or("");
  q.namespace_name = common::query_value(p.query, "namespace").value_or("");
  if (auto limit = common::query_value(p.query, "limit")) {
    auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), q.limit);
    if (ec != std::errc() || end != limit->data() + limit->size() || q.limit < 1 || q.limit > 500)
      return status(400, "limit must be a number between 1 and 500", "BadRequest");
  }
  const std::string after = common::query_value(p.query, "continue").value_or("");
  database_.run(
      [q, after](pqxx::connection& conn) -> std::optional<store::AuditPage> {
        pqxx::read_transaction tx(conn);
        try {
          return store::search_audit_events(tx, q, after);
        } catch (const std::invalid_argument&) {
          return std::nullopt;
        } catch (const pqxx::data_exception&) {  // a cursor whose time or id does not parse
          return std::nullopt;
        }
      },
      std::function<void(common::Result<std::optional<store::AuditPage>>)>(
          [reply](common::Result<std::optional<store::AuditPage>> r) {
            if (!r) return reply(r.error().code, "application/json",
                                 common::make_status(r.error().code, r.error().message, "ServiceUnavailable").dump());
            if (!*r) return reply(400, "application/json",
                                  common::make_status(400, "the continue token is not one this search gave out: start again",
                                                      "BadRequest").dump());
            reply(200, "application/json", nlohmann::json{{"items", (*r)->items}, {"continue", (*r)->next}}.dump());
          }));
}

std::shared_ptr<AuditExportStream> AuditApi::export_to(const std::string& target, const Identity& who,
                                                       const HeaderList& extra_headers, pipeline::Chain& chain) {
  auto refuse = [&](int code, const std::string& message, const std::string& reason) {
    chain.send_local_reply(code, message, reason, extra_headers);
    return nullptr;
  };
  if (chain.context().method != "GET") return refuse(405, "the audit trail is read-only: use GET", "MethodNotAllowed");
  if (!in_any_group(who, viewer_groups_))
    return refuse(403, "reading the audit trail needs membership in one of the groups " + boost::join(viewer_groups_, ", ") +
                           " (audit.viewer_groups); " + who.user + " has none of them", "Forbidden");
  std::string since, until, error;
  if (!window(parse(target).query, since, until, error)) return refuse(400, error, "BadRequest");
  spdlog::info("audit export for {}: since '{}' until '{}'", who.user, since, until);
  auto stream = std::make_shared<AuditExportStream>(database_, chain.shared_from_this(), since, until);
  HeaderList headers = extra_headers;
  headers.emplace_back("Content-Type", "application/jsonl; charset=utf-8");
  headers.emplace_back("Content-Disposition", "attachment; filename=\"sluice-audit.jsonl\"");
  stream->start(std::move(headers));
  return stream;
}

AuditExportStream::AuditExportStream(store::Database& database, std::shared_ptr<pipeline::Chain> chain, std::string since,
                                     std::string until)
    : database_(database), chain_(std::move(chain)), client_(chain_->downstream_ptr()), since_(std::move(since)),
      until_(std::move(until)) {}

void AuditExportStream::start(HeaderList headers) {
  pipeline::ResponseHead head;
  head.status = 200;
  head.headers = std::move(headers);
  auto self = shared_from_this();
  // The head goes first, so a broken database shows as a cut-off body, not a hanging request.
  client_->send_head(std::move(head), "", false, [self](bool ok) {
    if (ok) self->read_next();
  });
}

void AuditExportStream::read_next() {
  if (stopped_) return;
  auto self = shared_from_this();
  auto executor = chain_->executor();
  database_.run(
      [since = since_, until = until_, after = after_](pqxx::connection& conn) mutable {
        pqxx::read_transaction tx(conn);
        auto rows = store::export_page(tx, since, until, after, kExportPage);
        std::vector<std::string> lines;
        lines.reserve(rows.size());
        for (const auto& row : rows) lines.push_back(audit::to_k8s_audit_event(row).dump());
        return std::pair{std::move(lines), after};
      },
      std::function<void(common::Result<std::pair<std::vector<std::string>, std::string>>)>(
          [self, executor](common::Result<std::pair<std::vector<std::string>, std::string>> page) {
            boost::asio::post(executor, [self, page = std::move(page)]() mutable {
              if (self->stopped_) return;
              if (!page) {
                // Mid-body there is no status to change: the stream ends without its last line,
                // so a reader sees the export incomplete rather than short and whole.
                spdlog::warn("audit export cut off: {}", page.error().message);
                auto chain = self->chain_;
                auto client = self->client_;
                self->stop();
                chain->complete(503);
                client->finish_response(false);
                return;
              }
              self->after_ = page->second;
              const bool last = page->first.size() < static_cast<std::size_t>(kExportPage);
              self->write(std::move(page.value().first), last);
            });
          }));
}

void AuditExportStream::write(std::vector<std::string> lines, bool last) {
  std::string out;
  for (auto& l : lines) {
    out += l;
    out += '\n';
  }
  auto self = shared_from_this();
  client_->send_data(std::move(out), last, [self, last](bool ok) {
    if (!ok || self->stopped_) return;
    if (!last) return self->read_next();
    auto chain = self->chain_;
    auto client = self->client_;
    self->stop();
    chain->complete(200);
    client->finish_response(true);
  });
}

void AuditExportStream::stop() {
  stopped_ = true;
  chain_.reset();  // the chain holds the stage that holds us: no cycle once stopped
}

}  // namespace sluice::gateway
