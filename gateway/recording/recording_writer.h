// Writes recordings to PostgreSQL off the request path: sessions see only a queue. Its own thread
// and connection take whatever queued up, compress the chunks (zlib) and write them in one
// transaction of three statements; a full queue drops recording data (the exchange is then marked
// truncated) rather than slow a watch or an exec. It also runs the retention job.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>

#include <pqxx/connection>

#include "gateway/audit/audit_event.h"

namespace sluice::gateway::recording {

struct ExchangeStart {
  std::string id;           // the audit id
  std::string session_key;  // "kubectl:<Kubectl-Session>" or "conn:<user>:<connection id>"
  std::string cluster, username, kubectl_command;
  audit::Clock::time_point started_at;
  std::string kind;  // http, exec, raw
  std::string method, request_uri;
  nlohmann::json request_headers;
};

struct ExchangeChunk {
  std::string id;
  std::string stream;  // request, response, asciicast, from_client, from_cluster
  int seq = 0;
  std::string data;    // raw; compressed by the writer
};

struct StreamSummary {
  std::uint64_t bytes = 0;
  std::string sha256;
  bool truncated = false;
};

struct ExchangeEnd {
  std::string id;
  audit::Clock::time_point finished_at;
  int response_code = 0;
  nlohmann::json response_headers;
  StreamSummary request, response;
  nlohmann::json terminal, exit_status;
};

struct RecordingWriterOptions {
  std::string database_url;
  std::size_t max_queue_bytes = 64u << 20;
  std::chrono::seconds retention{0};  // 0: keep forever
  std::chrono::seconds retention_check{600};
};

class RecordingWriter {
 public:
  explicit RecordingWriter(RecordingWriterOptions options);
  ~RecordingWriter();  // writes what is queued (best effort), then stops
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  // False when the queue is full and the item was dropped.
  bool push(ExchangeStart e);
  bool push(ExchangeChunk e);
  void push(ExchangeEnd e);  // always taken: it is small, and it says what was lost

 private:
  using Item = std::variant<ExchangeStart, ExchangeChunk, ExchangeEnd>;
  static std::size_t item_bytes(const Item& item);
  bool enqueue(Item item, bool force);
  void run();
  void connect();
  bool write(std::deque<Item>& items);
  void apply_retention();

  RecordingWriterOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::size_t queued_bytes_ = 0;
  bool stopping_ = false;
  std::unique_ptr<pqxx::connection> conn_;  // writer thread only
  std::chrono::steady_clock::time_point next_retention_;
  std::thread thread_;
};

}  // namespace sluice::gateway::recording
