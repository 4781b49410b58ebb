// The clusters table: registration (agent token hash), agent check-in, listing. Blocking
// libpqxx calls: used by the CLI and in Database jobs, never on an Asio or a gRPC thread.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace sluice::gateway::store {

struct ClusterRecord {
  std::string name;
  std::string created_at;
  std::optional<std::string> last_seen;
  std::optional<std::string> agent_version;
  bool connected = false;  // last_seen within the last 30 s
};

class ClusterStore {
 public:
  explicit ClusterStore(std::string database_url);
  // On a connection someone else owns (a Database job's).
  explicit ClusterStore(pqxx::connection& borrowed) : borrowed_(&borrowed) {}
  ~ClusterStore();

  // Registers a cluster and returns its new agent token (only the SHA-256 is stored).
  // Throws std::runtime_error "cluster NAME already exists" unless `rotate`.
  std::string add(const std::string& name, bool rotate);
  bool remove(const std::string& name);
  std::vector<ClusterRecord> list();
  bool exists(const std::string& name);
  // Constant-time comparison of the presented token's hash with the stored one.
  bool verify_agent_token(const std::string& name, const std::string& token);
  void record_check_in(const std::string& name, const std::string& agent_version);

 private:
  pqxx::connection& conn();
  std::string url_;
  std::mutex mu_;
  std::unique_ptr<pqxx::connection> conn_;
  pqxx::connection* borrowed_ = nullptr;
};

}  // namespace sluice::gateway::store
