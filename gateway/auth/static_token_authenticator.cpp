#include "gateway/auth/static_token_authenticator.h"

#include <sstream>

#include "common/tls_certs.h"
#include "common/token_compare.h"

namespace sluice::gateway {
namespace {
// CSV fields, with double quotes around a field that holds commas.
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}
}  // namespace

std::optional<StaticTokenAuthenticator> StaticTokenAuthenticator::load(const std::string& path, std::string& error) {
  std::string text;
  try {
    text = common::read_file(path);
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
  auto a = parse(text, error);
  if (!a) error = path + ": " + error;
  return a;
}

std::optional<StaticTokenAuthenticator> StaticTokenAuthenticator::parse(const std::string& text, std::string& error) {
  StaticTokenAuthenticator a;
  std::stringstream ss(text);
  int lineno = 0;
  for (std::string line; std::getline(ss, line);) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto f = split_csv(line);
    if (f.size() < 3 || f[0].empty() || f[1].empty()) {
      error = "line " + std::to_string(lineno) + ": expected token,user,uid[,\"group1,group2\"]";
      return std::nullopt;
    }
    Entry e{common::sha256_hex(f[0]), {f[1], f[2], {}, {}, "static-token"}};
    if (f.size() > 3) {
      std::stringstream gs(f[3]);
      for (std::string g; std::getline(gs, g, ',');)
        if (!g.empty()) e.identity.groups.push_back(g);
    }
    a.entries_.push_back(std::move(e));
  }
  return a;
}

std::optional<Identity> StaticTokenAuthenticator::lookup(const std::string& bearer_token) const {
  const std::string digest = common::sha256_hex(bearer_token);
  const Entry* found = nullptr;
  for (const auto& e : entries_)  // no early exit: the time taken does not depend on which entry matched
    if (common::constant_time_equals(digest, e.token_sha256) && !found) found = &e;
  if (!found) return std::nullopt;
  return found->identity;
}

}  // namespace sluice::gateway
