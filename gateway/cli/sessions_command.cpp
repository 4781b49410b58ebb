#include "gateway/cli/sessions_command.h"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "gateway/audit/audit_event.h"
#include "gateway/cli/audit_command.h"
#include "gateway/cli/cluster_command.h"
#include "gateway/cli/command_line.h"
#include "gateway/store/recording_store.h"

namespace po = boost::program_options;

namespace sluice::gateway::cli {
namespace {

void print_exchange(const nlohmann::json& e) {
  std::cout << "--- " << e["startedAt"].get<std::string>() << "  " << e["method"].get<std::string>() << " "
            << e["requestURI"].get<std::string>() << "  -> "
            << (e["responseCode"].is_null() ? std::string("-") : e["responseCode"].dump()) << "  (" << e["kind"].get<std::string>()
            << ", exchange " << e["id"].get<std::string>() << ")\n";
  auto headers = [](const nlohmann::json& h) {
    if (h.is_array())
      for (const auto& kv : h) std::cout << "    " << kv[0].get<std::string>() << ": " << kv[1].get<std::string>() << "\n";
  };
  auto body = [](const char* what, const nlohmann::json& s) {
    std::cout << "  " << what << " body: " << s["bytes"] << " bytes, sha256 " << s["sha256"].get<std::string>()
              << (s["truncated"].get<bool>() ? " (recorded in part)" : "") << "\n";
    if (s.contains("body")) {
      const auto& b = s["body"];
      if (b.contains("text") && !b["text"].get<std::string>().empty()) std::cout << b["text"].get<std::string>() << "\n";
      if (b.contains("base64")) std::cout << "  (binary, base64) " << b["base64"].get<std::string>() << "\n";
    }
  };
  std::cout << "  request headers:\n";
  headers(e["requestHeaders"]);
  body("request", e["request"]);
  std::cout << "  response headers:\n";
  headers(e["responseHeaders"]);
  body("response", e["response"]);
  if (e.contains("asciicast")) {
    std::cout << "  terminal session (asciicast v2 events; 'sluice-gateway replay " << e["id"].get<std::string>()
              << "' plays it):\n" << e["asciicast"].get<std::string>();
    if (!e["exitStatus"].is_null()) std::cout << "  exit status: " << e["exitStatus"].dump() << "\n";
  }
}

}  // namespace

int run_sessions(const std::vector<std::string>& args) {
  po::options_description opts(
      "Usage: sluice-gateway sessions [--user U] [--cluster C] [--since 10m|TIME] [--limit N] [-o table|json]\n"
      "       sluice-gateway sessions show ID [-o json]          every exchange of a session, with bodies\n"
      "       sluice-gateway sessions export ID --asciicast       an exec session as asciicast v2 (> file.cast)\n"
      "Sessions group a kubectl invocation's requests (Kubectl-Session), or one client connection's.");
  std::string action, id, database, config, since, output = "table";
  bool asciicast = false;
  store::SessionQuery q;
  opts.add_options()("help,h", "show this help")
      ("database", po::value(&database), "PostgreSQL URL (default: from --config, or $SLUICE_DATABASE_URL)")
      ("config", po::value(&config), "gateway configuration file, for its database.url")
      ("user", po::value(&q.user), "only this user's sessions")
      ("cluster", po::value(&q.cluster), "only this cluster")
      ("since", po::value(&since), "only sessions active since: a duration (30s, 10m, 2h, 7d) or a timestamp")
      ("limit", po::value(&q.limit), "at most this many sessions (default 50, at most 10000)")
      ("asciicast", po::bool_switch(&asciicast), "export: write asciicast v2")
      ("output,o", po::value(&output), "table (default) or json");
  po::options_description hidden;
  hidden.add_options()("action", po::value(&action))("id", po::value(&id));
  po::positional_options_description pos;
  pos.add("action", 1).add("id", 1);
  po::variables_map vm;
  if (auto exit_code = parse_command_line("sessions", args, opts, hidden, pos, vm)) return *exit_code;
  if (!action.empty() && action != "list" && action != "show" && action != "export") {
    std::cerr << "sluice-gateway sessions: unknown action '" << action << "'\n" << opts;
    return 2;
  }
  if ((action == "show" || action == "export") && id.empty()) {
    std::cerr << "sluice-gateway sessions " << action << ": name the session (an ID from 'sluice-gateway sessions')\n";
    return 2;
  }
  if (action == "export" && !asciicast) {
    std::cerr << "sluice-gateway sessions export: say the format: --asciicast (the only one so far)\n";
    return 2;
  }
  if (output != "table" && output != "json") {
    std::cerr << "sluice-gateway sessions: -o takes table or json\n";
    return 2;
  }
  if (q.limit < 1 || q.limit > 10000) {
    std::cerr << "sluice-gateway sessions: --limit must be between 1 and 10000\n";
    return 2;
  }
  if (!since.empty()) {
    q.since = audit::since_to_timestamp(since);
    if (q.since.empty()) {
      std::cerr << "sluice-gateway sessions: --since takes a duration (30s, 10m, 2h, 7d) or a timestamp, not \"" << since
                << "\"\n";
      return 2;
    }
  }
  std::string error;
  const std::string url = database_url_from(database, config, error);
  if (url.empty()) {
    std::cerr << "sluice-gateway sessions: " << error << "\n";
    return 2;
  }
  try {
    pqxx::connection conn(url);
    if (action == "export") {
      if (store::write_asciicast(conn, id, std::cout)) return 0;
      std::cerr << "sluice-gateway sessions export: no exec recording with id " << id << "\n";
      return 1;
    }
    if (action == "show") {
      const auto s = store::session_detail(conn, id);
      if (s.is_null()) {
        std::cerr << "sluice-gateway sessions show: no session with id " << id << "\n";
        return 1;
      }
      if (output == "json") {
        std::cout << s.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return 0;
      }
      std::cout << "session " << s["id"].get<std::string>() << "  " << s["user"].get<std::string>() << "@"
                << s["cluster"].get<std::string>() << "  " << s["kubectlCommand"].get<std::string>() << "\n";
      for (const auto& e : s["exchanges"]) print_exchange(e);
      return 0;
    }
    const auto sessions = store::list_sessions(conn, q);
    if (output == "json") {
      std::cout << nlohmann::json{{"items", sessions}}.dump(2) << "\n";
      return 0;
    }
    std::cout << std::left << std::setw(38) << "ID" << std::setw(30) << "STARTED" << std::setw(14) << "CLUSTER"
              << std::setw(20) << "USER" << std::setw(10) << "EXCHANGES" << "COMMAND\n";
    for (const auto& s : sessions)
      std::cout << std::setw(38) << s["id"].get<std::string>() << std::setw(30) << s["startedAt"].get<std::string>()
                << std::setw(14) << s["cluster"].get<std::string>() << std::setw(20) << s["user"].get<std::string>()
                << std::setw(10) << s["exchanges"].dump()
                << (s["kubectlCommand"].get<std::string>().empty() ? "-" : s["kubectlCommand"].get<std::string>()) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway sessions: " << e.what() << "\n";
    return 1;
  }
}

int run_replay(const std::vector<std::string>& args) {
  po::options_description opts(
      "Usage: sluice-gateway replay ID [--speed N] [--max-idle SECONDS]\n"
      "Plays a recorded exec session in this terminal with its original timing (ID: the session or the exchange).");
  std::string id, database, config;
  double speed = 1, max_idle = 2;
  opts.add_options()("help,h", "show this help")
      ("database", po::value(&database), "PostgreSQL URL (default: from --config, or $SLUICE_DATABASE_URL)")
      ("config", po::value(&config), "gateway configuration file, for its database.url")
      ("speed", po::value(&speed), "play N times as fast (default 1)")
      ("max-idle", po::value(&max_idle), "wait at most this long between events (default 2 s; 0: no limit)");
  po::options_description hidden;
  hidden.add_options()("id", po::value(&id));
  po::positional_options_description pos;
  pos.add("id", 1);
  po::variables_map vm;
  if (auto exit_code = parse_command_line("replay", args, opts, hidden, pos, vm)) return *exit_code;
  if (id.empty() || speed <= 0 || max_idle < 0) {
    std::cerr << "sluice-gateway replay: name a recorded exec session (ID); --speed must be above 0\n" << opts;
    return 2;
  }
  std::string error;
  const std::string url = database_url_from(database, config, error);
  if (url.empty()) {
    std::cerr << "sluice-gateway replay: " << error << "\n";
    return 2;
  }
  std::stringstream cast;
  try {
    pqxx::connection conn(url);
    if (!store::write_asciicast(conn, id, cast)) {
      std::cerr << "sluice-gateway replay: no exec recording with id " << id << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway replay: " << e.what() << "\n";
    return 1;
  }
  std::string line;
  std::getline(cast, line);  // the header
  double last = 0;
  while (std::getline(cast, line)) {
    const auto event = nlohmann::json::parse(line, nullptr, false);
    if (!event.is_array() || event.size() != 3 || event[1] != "o") continue;
    double wait = (event[0].get<double>() - last) / speed;
    if (max_idle > 0 && wait > max_idle) wait = max_idle;
    if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    last = event[0].get<double>();
    std::cout << event[2].get<std::string>() << std::flush;
  }
  return 0;
}

}  // namespace sluice::gateway::cli
