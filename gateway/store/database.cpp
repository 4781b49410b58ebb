#include "gateway/store/database.h"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

namespace sluice::gateway::store {

Database::Database(std::string url, unsigned connections, std::size_t max_queued)
    : url_(std::move(url)), conns_(std::max(1u, connections)), queue_("sluice-db", std::max(1u, connections), max_queued) {}

Database::~Database() { queue_.stop(); }

bool Database::submit(std::function<void(pqxx::connection*, const std::string&)> body) {
  return queue_.post([this, body = std::move(body)](unsigned index) {
    std::string error;
    pqxx::connection* conn = connection(index, error);
    body(conn, error);
    if (conn && !conn->is_open()) conns_[index].reset();  // broken: opened again for the next job
  });
}

pqxx::connection* Database::connection(unsigned index, std::string& error) {
  auto& conn = conns_[index];
  if (conn && conn->is_open()) return conn.get();
  try {
    conn = std::make_unique<pqxx::connection>(url_);
    return conn.get();
  } catch (const std::exception& e) {
    conn.reset();
    error = std::string("cannot reach the database: ") + e.what();
    return nullptr;
  }
}

void Database::run_detached(std::string what, std::function<void(pqxx::connection&)> job) {
  run([job = std::move(job)](pqxx::connection& c) {
        job(c);
        return common::Done{};
      },
      std::function<void(common::Result<common::Done>)>([what](const common::Result<common::Done>& r) {
        if (!r) spdlog::warn("{}: {}", what, r.error().message);
      }));
}

}  // namespace sluice::gateway::store
