#include "gateway/store/recording_store.h"

#include <openssl/evp.h>
#include <pqxx/pqxx>

#include "common/base64.h"
#include "gateway/store/chunk_codec.h"

#include <regex>
#include <stdexcept>

namespace sluice::gateway::store {
namespace {

bool is_uuid(const std::string& s) {
  static const std::regex uuid("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  return std::regex_match(s, uuid);
}

std::string unpack(const pqxx::field& codec, const pqxx::field& data, std::size_t raw_bytes) {
  const pqxx::binarystring packed(data);
  return unpack_chunk(codec.c_str(), {reinterpret_cast<const char*>(packed.data()), packed.size()}, raw_bytes);
}


bool valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

nlohmann::json body_json(const std::string& data) {
  if (valid_utf8(data)) return {{"text", data}};
  return {{"base64", common::base64_encode(data)}, {"encoding", "base64"}};
}

nlohmann::json maybe_json(const pqxx::field& f) {
  return f.is_null() ? nlohmann::json(nullptr) : nlohmann::json::parse(f.c_str(), nullptr, false);
}

// The chunks of one stream of an exchange, in order, one at a time.
void each_chunk(pqxx::transaction_base& tx, const std::string& exchange, const std::string& stream,
                const std::function<void(const std::string&)>& each) {
  int next = 0;
  for (;;) {
    const auto rows = tx.exec_params(
        "SELECT seq, raw_bytes, data, codec FROM recording_chunks WHERE exchange_id = $1::uuid AND stream = $2 AND seq >= $3 "
        "ORDER BY seq LIMIT 16", exchange, stream, next);
    for (const auto& r : rows) {
      each(unpack(r[3], r[2], r[1].as<std::size_t>()));
      next = r[0].as<int>() + 1;
    }
    if (rows.size() < 16) return;
  }
}

}  // namespace

std::vector<nlohmann::json> list_sessions(pqxx::connection& conn, const SessionQuery& q) {
  pqxx::read_transaction tx(conn);
  std::string where = "TRUE";
  if (!q.user.empty()) where += " AND s.username = " + tx.quote(q.user);
  if (!q.cluster.empty()) where += " AND s.cluster = " + tx.quote(q.cluster);
  if (!q.since.empty()) where += " AND s.last_at >= " + tx.quote(q.since) + "::timestamptz";
  const auto rows = tx.exec(
      "SELECT * FROM (SELECT s.id, s.cluster, s.username, s.kubectl_command, s.started_at, s.last_at, "
      "(SELECT count(*) FROM recording_exchanges e WHERE e.session_id = s.id), "
      "(SELECT count(*) FROM recording_exchanges e WHERE e.session_id = s.id AND e.kind = 'exec') "
      "FROM recording_sessions s WHERE " + where + " ORDER BY s.started_at DESC LIMIT " + std::to_string(q.limit) +
      ") t ORDER BY started_at");
  std::vector<nlohmann::json> out;
  for (const auto& r : rows)
    out.push_back({{"id", r[0].c_str()}, {"cluster", r[1].c_str()}, {"user", r[2].c_str()},
                   {"kubectlCommand", r[3].c_str()}, {"startedAt", r[4].c_str()}, {"lastAt", r[5].c_str()},
                   {"exchanges", r[6].as<long long>()}, {"execSessions", r[7].as<long long>()}});
  return out;
}

nlohmann::json session_detail(pqxx::connection& conn, const std::string& session_id) {
  if (!is_uuid(session_id)) return nullptr;
  pqxx::read_transaction tx(conn);
  const auto s = tx.exec_params("SELECT id, cluster, username, kubectl_command, started_at, last_at FROM "
                                "recording_sessions WHERE id = $1::uuid", session_id);
  if (s.empty()) return nullptr;
  nlohmann::json out = {{"id", s[0][0].c_str()}, {"cluster", s[0][1].c_str()}, {"user", s[0][2].c_str()},
                        {"kubectlCommand", s[0][3].c_str()}, {"startedAt", s[0][4].c_str()},
                        {"lastAt", s[0][5].c_str()}, {"exchanges", nlohmann::json::array()}};
  const auto ex = tx.exec_params(
      "SELECT id, kind, started_at, finished_at, method, request_uri, request_headers, response_code, response_headers, "
      "request_bytes, request_sha256, request_truncated, response_bytes, response_sha256, response_truncated, "
      "terminal, exit_status FROM recording_exchanges WHERE session_id = $1::uuid ORDER BY started_at, id", session_id);
  for (const auto& r : ex) {
    const std::string id = r[0].c_str(), kind = r[1].c_str();
    nlohmann::json e = {{"id", id}, {"kind", kind}, {"startedAt", r[2].c_str()},
                        {"finishedAt", r[3].is_null() ? nlohmann::json(nullptr) : nlohmann::json(r[3].c_str())},
                        {"method", r[4].c_str()}, {"requestURI", r[5].c_str()}, {"requestHeaders", maybe_json(r[6])},
                        {"responseCode", r[7].is_null() ? nlohmann::json(nullptr) : nlohmann::json(r[7].as<int>())},
                        {"responseHeaders", maybe_json(r[8])}};
    auto summary = [&](int at) {
      return nlohmann::json{{"bytes", r[at].is_null() ? 0 : r[at].as<long long>()},
                            {"sha256", r[at + 1].is_null() ? "" : r[at + 1].c_str()},
                            {"truncated", !r[at + 2].is_null() && r[at + 2].as<bool>()}};
    };
    e["request"] = summary(9);
    e["response"] = summary(12);
    if (kind == "exec") {
      e["terminal"] = maybe_json(r[15]);
      e["exitStatus"] = maybe_json(r[16]);
      std::string cast;
      each_chunk(tx, id, "asciicast", [&](const std::string& c) { cast += c; });
      e["asciicast"] = cast;
    } else {
      const char* in = kind == "http" ? "request" : "from_client";
      const char* from = kind == "http" ? "response" : "from_cluster";
      std::string body;
      each_chunk(tx, id, in, [&](const std::string& c) { body += c; });
      e["request"]["body"] = body_json(body);
      body.clear();
      each_chunk(tx, id, from, [&](const std::string& c) { body += c; });
      e["response"]["body"] = body_json(body);
    }
    out["exchanges"].push_back(std::move(e));
  }
  return out;
}

bool write_asciicast(pqxx::connection& conn, const std::string& id, std::ostream& out) {
  if (!is_uuid(id)) return false;
  pqxx::read_transaction tx(conn);
  const auto r = tx.exec_params(
      "SELECT e.id, extract(epoch FROM e.started_at)::bigint, e.terminal, e.exit_status, e.request_uri, s.cluster, "
      "s.username, extract(epoch FROM e.finished_at - e.started_at) FROM recording_exchanges e "
      "JOIN recording_sessions s ON s.id = e.session_id WHERE e.kind = 'exec' AND (e.id = $1::uuid OR "
      "e.session_id = $1::uuid) ORDER BY (e.id = $1::uuid) DESC, e.started_at LIMIT 1", id);
  if (r.empty()) return false;
  const auto terminal = maybe_json(r[0][2]);
  const auto exit_status = maybe_json(r[0][3]);
  nlohmann::json header = {{"version", 2},
                           {"width", terminal.is_object() ? terminal.value("width", 80) : 80},
                           {"height", terminal.is_object() ? terminal.value("height", 24) : 24},
                           {"timestamp", r[0][1].as<long long>()}};
  if (!r[0][7].is_null()) header["duration"] = r[0][7].as<double>();
  std::string title = r[0][6].c_str() + std::string("@") + r[0][5].c_str() + " " + r[0][4].c_str();
  if (exit_status.is_object())
    title += exit_status.value("status", "") == "Success" ? " (exit 0)" : " (" + exit_status.value("message", "") + ")";
  header["title"] = title;
  header["env"] = {{"SLUICE_EXCHANGE", r[0][0].c_str()}};
  out << header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  each_chunk(tx, r[0][0].c_str(), "asciicast", [&](const std::string& c) { out << c; });
  out.flush();
  return true;
}

}  // namespace sluice::gateway::store
