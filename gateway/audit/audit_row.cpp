#include "gateway/audit/audit_row.h"

#include <nlohmann/json.hpp>

#include <charconv>

namespace sluice::gateway::audit {

void append_json_string(std::string& out, std::string_view value) {
  // ASCII, the common case, is escaped here; text with other bytes goes through nlohmann itself,
  // so its UTF-8 checks and replacements are nlohmann's own and the bytes cannot drift apart.
  for (const char c : value) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      out += nlohmann::json(std::string(value)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void JsonObjectText::key(std::string_view k) {
  if (!first_) out_ += ',';
  first_ = false;
  out_ += '"';
  out_ += k;
  out_ += "\":";
}

void JsonObjectText::string(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(out_, value);
}

void JsonObjectText::string_or_null(std::string_view k, std::string_view value) {
  if (!value.empty()) return string(k, value);
  key(k);
  out_ += "null";
}

void JsonObjectText::boolean(std::string_view k, bool value) {
  key(k);
  out_ += value ? "true" : "false";
}

void JsonObjectText::integer(std::string_view k, long long value) {
  key(k);
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

void JsonObjectText::unsigned_integer(std::string_view k, unsigned long long value) {
  key(k);
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

void JsonObjectText::number(std::string_view k, double value) {
  key(k);
  out_ += nlohmann::json(value).dump();  // nlohmann's own float form (shortest, "null" when not finite)
}

void JsonObjectText::string_array(std::string_view k, const std::vector<std::string>& values) {
  key(k);
  out_ += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out_ += ',';
    append_json_string(out_, values[i]);
  }
  out_ += ']';
}

std::string intent_row(const AuditIntent& a) {
  const auto& r = a.request;
  std::string out;
  out.reserve(512 + a.request_uri.size() + a.user_agent.size());
  JsonObjectText row(out);
  row.string("api_group", r.api_group);
  row.string("api_version", r.api_version);
  row.string_or_null("approval_id", a.approval_id);
  row.string("auth_method", a.who.method);
  row.string("cluster", a.cluster);
  row.string("decision", a.decision);
  row.string("decision_reason", a.decision_reason);
  row.boolean("dry_run", r.dry_run);
  row.string_array("groups", a.who.groups);
  row.string("id", a.id);
  row.string("kubectl_command", a.kubectl_command);
  row.string("kubectl_session", a.kubectl_session);
  row.string("name", r.name);
  row.string("namespace", r.namespace_name);
  if (!a.parent_id.empty()) row.string("parent_id", a.parent_id);  // absent, not null: older rows' content is unchanged
  row.string("received_at", to_pg_timestamp(a.received_at));
  row.string("request_uri", a.request_uri);
  row.string("resource", r.resource);
  row.string("source_ip", a.source_ip);
  row.string("subresource", r.subresource);
  row.string("uid", a.who.uid);
  row.string("user_agent", a.user_agent);
  row.string("username", a.who.user);
  row.string("verb", r.verb);
  row.close();
  return out;
}

std::string outcome_row(const AuditOutcome& o) {
  std::string out;
  out.reserve(256);
  JsonObjectText row(out);
  row.unsigned_integer("bytes_in", o.bytes_in);
  row.unsigned_integer("bytes_out", o.bytes_out);
  row.number("duration_ms", o.duration_ms);
  row.string("finished_at", to_pg_timestamp(o.finished_at));
  row.string("id", o.id);
  row.string("received_at", to_pg_timestamp(o.received_at));
  row.integer("response_code", o.response_code);
  row.close();
  return out;
}

}  // namespace sluice::gateway::audit
