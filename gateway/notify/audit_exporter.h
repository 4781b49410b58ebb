// Audit export sinks: every audit event, as Kubernetes audit.k8s.io/v1 Events, to a rotating
// JSON-lines file and/or a webhook that takes EventList batches (what kube-apiserver's audit
// webhook backend sends). The exporter follows the hash chains with a durable cursor per sink and
// chain (migration 0008): a sink that is down gets everything once it is back, at least once.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "common/worker.h"
#include "gateway/notify/notification_sink.h"

namespace sluice::gateway::audit {

class AuditEventSink {
 public:
  virtual ~AuditEventSink() = default;
  virtual const std::string& name() const = 0;
  virtual int max_batch() const = 0;
  virtual notify::Delivery deliver(const std::vector<nlohmann::json>& events) = 0;
};

// One Event per line, appended; past max_bytes the file becomes FILE.1 (FILE.1 becomes FILE.2, ...,
// keeping max_files old files).
class FileAuditSink : public AuditEventSink {
 public:
  FileAuditSink(std::string name, std::string path, std::uint64_t max_bytes, int max_files);
  const std::string& name() const override { return name_; }
  int max_batch() const override { return 1000; }
  notify::Delivery deliver(const std::vector<nlohmann::json>& events) override;

 private:
  void rotate();
  std::string name_, path_;
  std::uint64_t max_bytes_;
  int max_files_;
};

// POST {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [...]}; 2xx is delivered.
class WebhookAuditSink : public AuditEventSink {
 public:
  WebhookAuditSink(std::string name, std::string url, std::string ca_file, std::string token_file, int max_batch);
  const std::string& name() const override { return name_; }
  int max_batch() const override { return max_batch_; }
  notify::Delivery deliver(const std::vector<nlohmann::json>& events) override;

 private:
  std::string name_, url_, ca_file_, token_file_;
  int max_batch_;
};

struct AuditExportOptions {
  std::string database_url;
  std::string chain_id;  // this gateway's writer's chain: its cursors are registered at start
  std::chrono::milliseconds retry_initial{1000};  // doubles per failed attempt
  std::chrono::milliseconds retry_max{300000};
  std::chrono::milliseconds poll{500};
};

class AuditExporter {
 public:
  AuditExporter(AuditExportOptions options, std::vector<std::unique_ptr<AuditEventSink>> sinks);
  ~AuditExporter();
  AuditExporter(const AuditExporter&) = delete;
  AuditExporter& operator=(const AuditExporter&) = delete;

 private:
  std::chrono::milliseconds tick();
  void export_pending(AuditEventSink& sink);

  AuditExportOptions options_;
  std::vector<std::unique_ptr<AuditEventSink>> sinks_;
  std::unique_ptr<pqxx::connection> conn_;  // the ticker thread's own
  bool registered_ = false;
  common::Ticker ticker_{"sluice-export"};  // last: stops before the rest goes
};

}  // namespace sluice::gateway::audit
