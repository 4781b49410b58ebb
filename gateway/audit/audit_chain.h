// The hash chain over the audit trail. The writer links each row it writes (intents and outcomes,
// in the order they go out) to the one before: row_hash = SHA-256(prev_hash "\n" content), where
// content is the row's canonical JSON, exactly the fields the writer stores. verify_audit_chain()
// reads the rows back, rebuilds the same JSON from the stored columns, and reports the first link
// that does not hold: an edited row, a deleted row (a gap in the sequence), a broken link.
#pragma once
#include <nlohmann/json.hpp>
#include <pqxx/connection>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::gateway::audit {

// The hash of a row's content after `prev_hash` ("" for the first row of a chain): of its
// canonical JSON text (audit_row.h), or of the row itself, dumped the same way.
std::string chain_hash_text(const std::string& prev_hash, std::string_view content);
std::string chain_hash(const std::string& prev_hash, const nlohmann::json& content);

// One writer's chain. link() adds chain_id, chain_seq, prev_hash and row_hash to a row. Batches
// may be in flight one after another: each one's head is committed when it is written, and after
// a failure the chain goes back to the last committed head (what failed is linked again).
class AuditChain {
 public:
  struct Head {
    std::int64_t seq = 0;
    std::string hash;
  };
  AuditChain();
  // `row` is a canonical JSON object text (audit_row.h); the chain fields go in before its '}'.
  void link(std::string& row);
  void link(nlohmann::json& row);
  const Head& head() const { return pending_; }            // the last link handed out
  const Head& committed() const { return committed_; }     // the last link known to be written
  void commit(const Head& written) { committed_ = written; }
  void commit() { committed_ = pending_; }
  void rollback() { pending_ = committed_; }
  const std::string& id() const { return id_; }

 private:
  std::string id_;
  Head committed_, pending_;
};

struct ChainReport {
  std::size_t rows = 0, chains = 0, unchained = 0;  // unchained: rows from before the chain existed
  std::optional<std::string> broken;                // the first link that does not hold, for people
};

// Checks every chain (rows received since `since`, a timestamptz text, "" = all). Blocking libpqxx,
// in keyset pages: any number of rows in bounded memory.
ChainReport verify_audit_chain(const std::string& database_url, const std::string& since);
ChainReport verify_audit_chain(pqxx::connection& conn, const std::string& since);

}  // namespace sluice::gateway::audit
