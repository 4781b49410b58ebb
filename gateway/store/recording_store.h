// Reading recordings back (tables recording_sessions, recording_exchanges, recording_chunks) for
// the sessions subcommands and the REST API. Blocking libpqxx: never on an Asio thread (the REST
// API runs them on store::Database).
#pragma once
#include <nlohmann/json.hpp>
#include <pqxx/connection>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace sluice::gateway::store {

struct SessionQuery {
  std::string user, cluster;
  std::string since;  // timestamptz text; "" = any time
  int limit = 50;
};

// Newest last: id, cluster, user, kubectlCommand, startedAt, lastAt, exchanges.
std::vector<nlohmann::json> list_sessions(pqxx::connection& conn, const SessionQuery& q);

// The session and every exchange in it with headers and bodies (text, or base64 with
// "encoding": "base64" when not UTF-8); exec exchanges carry their asciicast events. nullopt-like
// null JSON when there is no such session.
nlohmann::json session_detail(pqxx::connection& conn, const std::string& session_id);

// asciicast v2 of an exec exchange: `id` names the exchange, or a session (its first exec). Written
// chunk by chunk. False when there is no exec recording by that id.
bool write_asciicast(pqxx::connection& conn, const std::string& id, std::ostream& out);

}  // namespace sluice::gateway::store
