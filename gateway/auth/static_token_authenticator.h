// Bearer tokens from a file in kube-apiserver's --token-auth-file format: token,user,uid,"g1,g2".
// Only SHA-256 digests are kept in memory; every lookup compares against all entries in constant time.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "gateway/auth/authenticator.h"
#include "gateway/auth/identity.h"

namespace sluice::gateway {

class StaticTokenAuthenticator : public Authenticator {
 public:
  // nullopt with `error` (file and line) when the file is unreadable or malformed.
  static std::optional<StaticTokenAuthenticator> load(const std::string& path, std::string& error);
  static std::optional<StaticTokenAuthenticator> parse(const std::string& text, std::string& error);

  std::optional<Identity> lookup(const std::string& bearer_token) const;
  std::size_t size() const { return entries_.size(); }

  std::string_view name() const override { return "static-token"; }
  bool applies(const Credentials& credentials) const override { return !credentials.bearer_token.empty(); }
  void authenticate(const Credentials& credentials, Done done) override {
    auto who = lookup(credentials.bearer_token);
    done(std::move(who), who ? "" : "unknown bearer token");
  }

 private:
  struct Entry {
    std::string token_sha256;
    Identity identity;
  };
  std::vector<Entry> entries_;
};

}  // namespace sluice::gateway
