// An audit row as the JSON text the writer sends and the hash chain hashes, built straight into a
// string (no per-row JSON map). The text is exactly what nlohmann::json's
// dump(-1, ' ', false, error_handler_t::replace) writes for the same object, keys in sorted
// order: verify_audit_chain() rebuilds each row with nlohmann from the stored columns, and the
// hashes only match byte for byte.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "gateway/audit/audit_event.h"

namespace sluice::gateway::audit {

// `{"approval_id":…,…,"verb":…}`: the intent's content (chain fields not included).
std::string intent_row(const AuditIntent& a);
// `{"bytes_in":…,…,"response_code":…}`: the outcome's content.
std::string outcome_row(const AuditOutcome& o);

// One JSON object written field by field; the caller adds keys in sorted (byte) order.
class JsonObjectText {
 public:
  explicit JsonObjectText(std::string& out) : out_(out) { out_ += '{'; }
  void string(std::string_view key, std::string_view value);
  void string_or_null(std::string_view key, std::string_view value);  // "" becomes null
  void boolean(std::string_view key, bool value);
  void integer(std::string_view key, long long value);
  void unsigned_integer(std::string_view key, unsigned long long value);
  void number(std::string_view key, double value);
  void string_array(std::string_view key, const std::vector<std::string>& values);
  void close() { out_ += '}'; }

 private:
  void key(std::string_view k);
  std::string& out_;
  bool first_ = true;
};

// `value` as a JSON string literal, as nlohmann writes it (invalid UTF-8 replaced by U+FFFD).
void append_json_string(std::string& out, std::string_view value);

}  // namespace sluice::gateway::audit
