#include "gateway/ui/session_store.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/token_compare.h"
#include "gateway/ui/session_cookie.h"

namespace sluice::gateway::ui {
namespace {
nlohmann::json identity_json(const Identity& who) {
  return {{"user", who.user}, {"uid", who.uid}, {"groups", who.groups}, {"extra", who.extra}, {"method", who.method}};
}

Identity identity_from(const nlohmann::json& j) {
  Identity who;
  who.user = j.value("user", "");
  who.uid = j.value("uid", "");
  who.groups = j.value("groups", std::vector<std::string>{});
  who.extra = j.value("extra", std::map<std::string, std::vector<std::string>>{});
  who.method = j.value("method", "");
  return who;
}
}  // namespace

void SessionStore::create(const Identity& who, std::function<void(common::Result<Created>)> done) {
  const long ttl = ttl_seconds_;
  database_.run(
      [who, ttl](pqxx::connection& conn) -> Created {
        Session s{who, new_secret(), ""};
        const std::string cookie = new_secret();
        pqxx::work tx(conn);
        auto r = tx.exec_params(
            "INSERT INTO ui_sessions (id_hash, csrf_token, identity, expires_at) "
            "VALUES ($1, $2, $3::jsonb, now() + make_interval(secs => $4)) "
            "RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            common::sha256_hex(cookie), s.csrf_token, identity_json(who).dump(), ttl);
        s.expires_at = r[0][0].c_str();
        // Expired sessions go with the next login, not with a timer of their own.
        tx.exec0("DELETE FROM ui_sessions WHERE expires_at < now() - interval '1 day'");
        tx.commit();
        return {cookie, s};
      },
      std::move(done));
}

void SessionStore::find(const std::string& cookie_value,
                        std::function<void(common::Result<std::optional<Session>>)> done) {
  database_.run(
      [hash = common::sha256_hex(cookie_value)](pqxx::connection& conn) -> std::optional<Session> {
        pqxx::read_transaction tx(conn);
        auto r = tx.exec_params(
            "SELECT identity::text, csrf_token, "
            "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ui_sessions "
            "WHERE id_hash = $1 AND ended_at IS NULL AND expires_at > now()",
            hash);
        if (r.empty()) return std::nullopt;
        return Session{identity_from(nlohmann::json::parse(r[0][0].c_str())), r[0][1].c_str(), r[0][2].c_str()};
      },
      std::move(done));
}

void SessionStore::end(const std::string& cookie_value, std::function<void(common::Result<common::Done>)> done) {
  database_.run(
      [hash = common::sha256_hex(cookie_value)](pqxx::connection& conn) -> common::Done {
        pqxx::work tx(conn);
        tx.exec_params0("UPDATE ui_sessions SET ended_at = now() WHERE id_hash = $1 AND ended_at IS NULL", hash);
        tx.commit();
        return {};
      },
      std::move(done));
}

}  // namespace sluice::gateway::ui
