#include "gateway/notify/audit_exporter.h"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>


#include "gateway/audit/k8s_audit_event.h"
#include "gateway/notify/http_post.h"
#include "gateway/store/audit_store.h"

namespace sluice::gateway::audit {

FileAuditSink::FileAuditSink(std::string name, std::string path, std::uint64_t max_bytes, int max_files)
    : name_(std::move(name)), path_(std::move(path)), max_bytes_(max_bytes), max_files_(max_files) {}

void FileAuditSink::rotate() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove(path_ + "." + std::to_string(max_files_), ec);
  for (int i = max_files_ - 1; i >= 1; --i) fs::rename(path_ + "." + std::to_string(i), path_ + "." + std::to_string(i + 1), ec);
  fs::rename(path_, path_ + ".1", ec);
}

// Rotation is checked before each line, not once per batch: one batch of 1000 events must not
// grow a file far past max_bytes.
notify::Delivery FileAuditSink::deliver(const std::vector<nlohmann::json>& events) {
  std::error_code ec;
  std::uint64_t size = std::filesystem::file_size(path_, ec);
  if (ec) size = 0;
  std::ofstream out;
  for (const auto& e : events) {
    const std::string line = e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (max_bytes_ > 0 && size > 0 && size + line.size() > max_bytes_) {
      if (out.is_open()) out.close();
      rotate();
      size = 0;
    }
    if (!out.is_open()) out.open(path_, std::ios::app);
    out << line;
    if (!out) return {false, "cannot write " + path_};
    size += line.size();
  }
  if (out.is_open()) out.flush();
  if (out.is_open() && !out) return {false, "cannot write " + path_};
  return {true, ""};
}

WebhookAuditSink::WebhookAuditSink(std::string name, std::string url, std::string ca_file, std::string token_file,
                                   int max_batch)
    : name_(std::move(name)), url_(std::move(url)), ca_file_(std::move(ca_file)), token_file_(std::move(token_file)),
      max_batch_(max_batch) {}

notify::Delivery WebhookAuditSink::deliver(const std::vector<nlohmann::json>& events) {
  const nlohmann::json list = {{"kind", "EventList"}, {"apiVersion", "audit.k8s.io/v1"}, {"metadata", nlohmann::json::object()},
                               {"items", events}};
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}};
  try {
    if (!token_file_.empty()) headers.emplace_back("Authorization", "Bearer " + notify::read_secret_file(token_file_));
  } catch (const std::exception& e) {
    return {false, e.what()};
  }
  return notify::http_post(url_, list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), headers, ca_file_);
}

AuditExporter::AuditExporter(AuditExportOptions options, std::vector<std::unique_ptr<AuditEventSink>> sinks)
    : options_(std::move(options)), sinks_(std::move(sinks)) {
  ticker_.start([this] { return tick(); });
}

AuditExporter::~AuditExporter() { ticker_.stop(); }

std::chrono::milliseconds AuditExporter::tick() {
  try {
    if (!conn_ || !conn_->is_open()) {
      conn_ = std::make_unique<pqxx::connection>(options_.database_url);
      pqxx::nontransaction(*conn_).exec("SET statement_timeout = '30s'");
    }
    if (!registered_) {
      pqxx::work tx(*conn_);
      for (const auto& sink : sinks_)
        tx.exec_params("INSERT INTO audit_export_cursors (sink, chain_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING",
                       sink->name(), options_.chain_id);
      tx.commit();
      registered_ = true;
    }
    for (auto& sink : sinks_) export_pending(*sink);
  } catch (const std::exception& e) {
    spdlog::warn("audit export: {} (tried again shortly)", e.what());
    conn_.reset();
  }
  return options_.poll;
}

void AuditExporter::export_pending(AuditEventSink& sink) {
  for (;;) {
    bool delivered = false;
    pqxx::work tx(*conn_);
    const auto cursors = tx.exec_params(
        "SELECT chain_id::text, last_seq, attempts FROM audit_export_cursors WHERE sink = $1 AND next_attempt_at <= now() "
        "ORDER BY updated_at FOR UPDATE SKIP LOCKED LIMIT 8", sink.name());
    for (const auto& c : cursors) {
      const std::string chain = c[0].c_str();
      std::int64_t last = c[1].as<std::int64_t>();
      std::vector<nlohmann::json> events;
      // an intent link is the request's RequestReceived stage, an outcome link its ResponseComplete
      for (const auto& row : store::chain_rows(tx, chain, last, sink.max_batch(), last))
        events.push_back(audit::to_k8s_audit_event(row));
      if (events.empty()) continue;
      const auto d = sink.deliver(events);
      if (d.ok) {
        tx.exec_params("UPDATE audit_export_cursors SET last_seq = $3, attempts = 0, last_error = '', updated_at = now() "
                       "WHERE sink = $1 AND chain_id = $2::uuid", sink.name(), chain, last);
        delivered = true;
        continue;
      }
      const int attempts = c[2].as<int>() + 1;
      auto wait = options_.retry_initial * (1LL << std::min(attempts - 1, 20));
      if (wait > options_.retry_max) wait = options_.retry_max;
      spdlog::warn("audit export to {}: {} events not delivered (attempt {}, next in {} ms): {}", sink.name(),
                   events.size(), attempts, wait.count(), d.error);
      tx.exec_params("UPDATE audit_export_cursors SET attempts = $3, last_error = $4, updated_at = now(), "
                     "next_attempt_at = now() + $5 * interval '1 millisecond' WHERE sink = $1 AND chain_id = $2::uuid",
                     sink.name(), chain, attempts, d.error, static_cast<long long>(wait.count()));
    }
    tx.commit();
    if (!delivered) return;  // caught up, or every chain waits for its retry
  }
}

}  // namespace sluice::gateway::audit
