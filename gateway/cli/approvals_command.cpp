#include "gateway/cli/approvals_command.h"

#include <boost/program_options.hpp>
#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "common/request_info.h"
#include "gateway/cli/command_line.h"
#include "gateway/notify/approval_event.h"

namespace po = boost::program_options;

namespace sluice::gateway::cli {
namespace {

struct Endpoint {
  std::string server, token_file, ca_file;
};

void add_endpoint_options(po::options_description& opts, Endpoint& e) {
  opts.add_options()("server", po::value(&e.server), "the gateway, https://HOST:PORT (default: $SLUICE_SERVER)")
      ("token-file", po::value(&e.token_file), "your bearer token (default: $SLUICE_TOKEN_FILE)")
      ("ca-file", po::value(&e.ca_file), "the gateway's CA certificate (default: $SLUICE_CA_FILE, else the system's)");
}

std::string env_or(const std::string& given, const char* name) {
  if (!given.empty()) return given;
  const char* v = std::getenv(name);
  return v ? v : "";
}

size_t collect(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > (8u << 20)) return 0;  // an answer over 8 MiB is not one of ours
  s->append(data, size * n);
  return size * n;
}

// One request to the API; the answer's status and JSON body. Throws on transport failure.
std::pair<long, nlohmann::json> call(const Endpoint& given, const std::string& method, const std::string& path,
                                     const std::string& body = "") {
  Endpoint e{env_or(given.server, "SLUICE_SERVER"), env_or(given.token_file, "SLUICE_TOKEN_FILE"),
             env_or(given.ca_file, "SLUICE_CA_FILE")};
  if (e.server.empty()) throw std::runtime_error("which gateway? give --server or set SLUICE_SERVER");
  if (e.token_file.empty()) throw std::runtime_error("as whom? give --token-file or set SLUICE_TOKEN_FILE");
  std::ifstream tf(e.token_file);
  std::string token;
  if (!tf || !std::getline(tf, token) || token.empty()) throw std::runtime_error("cannot read a token from " + e.token_file);
  while (!e.server.empty() && e.server.back() == '/') e.server.pop_back();
  CURL* curl = curl_easy_init();
  if (!curl) throw std::runtime_error("libcurl failed to start");
  std::string out;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Content-Type: application/json");
  const std::string url = e.server + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (method == "POST") curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  if (!e.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, e.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
  const CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) throw std::runtime_error(url + ": " + curl_easy_strerror(rc));
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(url + ": HTTP " + std::to_string(code) + ", not JSON");
  return {code, j};
}

int api_error(const std::string& cmd, long code, const nlohmann::json& j) {
  std::cerr << "sluice-gateway " << cmd << ": " << (j.is_object() ? j.value("message", j.dump()) : j.dump()) << " (HTTP "
            << code << ")\n";
  return 1;
}

std::string cell(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) return "-";
  // Client-sent text (Kubectl-Command, names) reaches a reviewer's terminal: no escape sequences.
  std::string out = it->get<std::string>();
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

// What the request would do, as the gateway previewed it for reviewers (approval_preview.h).
void print_preview(const nlohmann::json& p) {
  if (!p.is_object()) return;
  const std::string kind = p.value("kind", "");
  if (kind == "dryRun") {
    std::cout << "Dry run:     HTTP " << p.value("status", 0) << "\n";
    if (p.contains("diff")) std::cout << (p["diff"].get<std::string>().empty() ? "(no change)\n" : p["diff"].get<std::string>());
    else if (p.contains("result")) std::cout << p["result"].dump(2) << "\n";  // the Status it would get
  } else if (kind == "delete" && p["live"].is_object()) {
    std::cout << "Deletes:\n" << p["live"].dump(2) << "\n";
  } else if (kind == "deletecollection" || kind == "namespaceDelete") {
    std::cout << "Deletes:     " << (p.value("countIsLowerBound", false) ? "at least " : "") << p.value("count", 0)
              << " objects\n";
    if (p["deletes"].is_object())
      for (const auto& [resource, what] : p["deletes"].items()) {
        std::cout << "  " << resource << " (" << what.value("count", 0) << "):";
        for (const auto& n : what["names"]) std::cout << " " << n.get<std::string>();
        std::cout << "\n";
      }
  }
  if (p["errors"].is_array())
    for (const auto& e : p["errors"]) std::cout << "Preview:     could not read " << e.get<std::string>() << "\n";
}

// The request as the gateway classified it, with its API group.
std::string classified(const nlohmann::json& a) {
  std::string out = notify::classified_request(a);
  if (!a.value("apiGroup", "").empty()) out += " (" + a.value("apiGroup", "") + ")";
  return out;
}

void print_details(const nlohmann::json& a) {
  std::cout << "ID:          " << cell(a, "id") << "\nState:       " << cell(a, "state")
            << "\nCluster:     " << cell(a, "cluster") << "\nRequester:   " << a["requester"].value("username", "")
            << " (" << a["requester"].value("authMethod", "") << ")\nRequest:     " << classified(a)
            << "\nHTTP:        " << cell(a, "method") << " " << cell(a, "requestURI")
            << "\nClient says: " << cell(a, "kubectlCommand") << "  (its Kubectl-Command header: unverified)\nRule:        "
            << cell(a, "rule") << ": " << cell(a, "message") << "\nApprovers:   groups " << a["approvers"]["groups"].dump()
            << ", users " << a["approvers"]["users"].dump() << "; " << a.value("minApprovals", 1)
            << " needed\nCreated:     " << cell(a, "createdAt") << "\nExpires:     " << cell(a, "expiresAt") << "\n";
  if (cell(a, "decidedAt") != "-")
    std::cout << "Decided:     " << cell(a, "decidedAt") << " by " << cell(a, "decidedBy") << ": "
              << cell(a, "decisionReason") << "\n";
  for (const auto& v : a["votes"])
    std::cout << "Vote:        " << v.value("approver", "") << " " << v.value("vote", "") << " at "
              << v.value("votedAt", "") << (v.value("reason", "").empty() ? "" : ": " + v.value("reason", "")) << "\n";
  if (!a.value("requestBody", "").empty()) std::cout << "Body:\n" << a.value("requestBody", "") << "\n";
  std::cout << "Body SHA-256: " << cell(a, "bodySHA256") << "\n";
  print_preview(a["preview"]);
}

}  // namespace

int run_approvals(const std::vector<std::string>& args) {
  po::options_description opts(
      "Usage: sluice-gateway approvals [--pending] [--cluster C] [--requester U] [--limit N] [-o table|json]\n"
      "       sluice-gateway approvals show ID [-o text|json]\n"
      "Approval requests on the gateway (newest first)");
  Endpoint e;
  std::string action, id, output = "table", cluster, requester;
  int limit = 50;
  opts.add_options()("help,h", "show this help")("pending", "only the ones waiting for a decision")
      ("cluster", po::value(&cluster), "only this cluster's")("requester", po::value(&requester), "only this user's")
      ("limit", po::value(&limit), "at most this many (default 50)")("output,o", po::value(&output), "table or json");
  add_endpoint_options(opts, e);
  po::options_description hidden;
  hidden.add_options()("action", po::value(&action))("id", po::value(&id));
  po::positional_options_description pos;
  pos.add("action", 1).add("id", 1);
  po::variables_map vm;
  if (auto exit_code = parse_command_line("approvals", args, opts, hidden, pos, vm)) return *exit_code;
  try {
    if (action == "show") {
      if (id.empty()) {
        std::cerr << "sluice-gateway approvals show: which ID?\n";
        return 2;
      }
      auto [code, j] = call(e, "GET", "/api/v1/approvals/" + id);
      if (code != 200) return api_error("approvals show", code, j);
      if (output == "json") std::cout << j.dump(2) << "\n";
      else print_details(j);
      return 0;
    }
    if (!action.empty()) {
      std::cerr << "sluice-gateway approvals: unknown action '" << action << "'\n" << opts;
      return 2;
    }
    auto [code, j] = call(e, "GET", "/api/v1/approvals?limit=" + std::to_string(limit) +
                                        (vm.count("pending") ? "&state=pending" : "") +
                                        (cluster.empty() ? "" : "&cluster=" + common::percent_encode(cluster)) +
                                        (requester.empty() ? "" : "&requester=" + common::percent_encode(requester)));
    if (code != 200) return api_error("approvals", code, j);
    if (output == "json") {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << std::left << std::setw(38) << "ID" << std::setw(10) << "STATE" << std::setw(12) << "CLUSTER"
              << std::setw(20) << "REQUESTER" << std::setw(34) << "REQUEST" << std::setw(28) << "RULE" << "CREATED\n";
    for (const auto& a : j["items"]) {
      std::string what = cell(a, "verb") + " " + cell(a, "resource");
      if (cell(a, "subresource") != "-") what += "/" + cell(a, "subresource");
      if (cell(a, "name") != "-") what += " " + cell(a, "name");
      std::cout << std::setw(38) << cell(a, "id") << std::setw(10) << cell(a, "state") << std::setw(12)
                << cell(a, "cluster") << std::setw(20) << a["requester"].value("username", "-") << std::setw(34) << what
                << std::setw(28) << cell(a, "rule") << cell(a, "createdAt") << "\n";
    }
    return 0;
  } catch (const std::exception& err) {
    std::cerr << "sluice-gateway approvals: " << err.what() << "\n";
    return 1;
  }
}

int run_vote(bool approve, const std::vector<std::string>& args) {
  const std::string cmd = approve ? "approve" : "reject";
  po::options_description opts("Usage: sluice-gateway " + cmd + " ID " + (approve ? "[--reason R]" : "--reason R") +
                               "\n" + (approve ? "Approve" : "Reject") + " a held request");
  Endpoint e;
  std::string id, reason, output = "text";
  opts.add_options()("help,h", "show this help")("reason", po::value(&reason), "why (required to reject)")
      ("output,o", po::value(&output), "text or json");
  add_endpoint_options(opts, e);
  po::options_description hidden;
  hidden.add_options()("id", po::value(&id));
  po::positional_options_description pos;
  pos.add("id", 1);
  po::variables_map vm;
  if (auto exit_code = parse_command_line(cmd, args, opts, hidden, pos, vm)) return *exit_code;
  if (id.empty() || (!approve && reason.empty())) {
    std::cerr << "sluice-gateway " << cmd << ": " << (id.empty() ? "which ID?" : "a rejection needs --reason") << "\n"
              << opts;
    return 2;
  }
  try {
    auto [code, j] = call(e, "POST", "/api/v1/approvals/" + id + "/" + cmd, nlohmann::json{{"reason", reason}}.dump());
    if (code != 200) return api_error(cmd, code, j);
    if (output == "json") std::cout << j.dump(2) << "\n";
    else std::cout << "approval " << j.value("id", id) << ": " << j.value("state", "?") << "\n";
    return 0;
  } catch (const std::exception& err) {
    std::cerr << "sluice-gateway " << cmd << ": " << err.what() << "\n";
    return 1;
  }
}

}  // namespace sluice::gateway::cli
