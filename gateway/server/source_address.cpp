#include "gateway/server/source_address.h"

#include <arpa/inet.h>

#include <optional>

namespace sluice::gateway {
namespace {

std::optional<std::vector<unsigned char>> address_bytes(const std::string& text) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return std::vector<unsigned char>(buf, buf + 4);
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return std::vector<unsigned char>(buf, buf + 16);
  return std::nullopt;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

bool TrustedProxies::parse(const std::vector<std::string>& entries, std::string& error) {
  ranges_.clear();
  for (const auto& entry : entries) {
    const auto slash = entry.find('/');
    auto bytes = address_bytes(entry.substr(0, slash));
    int prefix = bytes ? static_cast<int>(bytes->size() * 8) : 0;
    bool ok = bytes.has_value();
    if (ok && slash != std::string::npos) {
      try {
        std::size_t used = 0;
        prefix = std::stoi(entry.substr(slash + 1), &used);
        ok = used == entry.size() - slash - 1 && prefix >= 0 && prefix <= static_cast<int>(bytes->size() * 8);
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) {
      error = "trusted_proxies: \"" + entry + "\" is not an IP address or CIDR range";
      return false;
    }
    ranges_.push_back({std::move(*bytes), prefix});
  }
  return true;
}

bool TrustedProxies::contains(const std::string& address) const {
  auto bytes = address_bytes(address);
  if (!bytes) return false;
  for (const auto& r : ranges_) {
    if (r.network.size() != bytes->size()) continue;
    bool match = true;
    for (int bit = 0; bit < r.prefix && match; ++bit) {
      const unsigned char mask = static_cast<unsigned char>(0x80 >> (bit % 8));
      match = ((*bytes)[static_cast<std::size_t>(bit / 8)] & mask) == (r.network[static_cast<std::size_t>(bit / 8)] & mask);
    }
    if (match) return true;
  }
  return false;
}

std::string source_address(const std::string& peer, std::string_view forwarded_for, const TrustedProxies& trusted) {
  if (forwarded_for.empty() || !trusted.contains(peer)) return peer;
  std::string candidate = peer;
  while (!forwarded_for.empty()) {
    const auto comma = forwarded_for.rfind(',');
    const std::string entry = trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
    forwarded_for = comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
    if (!address_bytes(entry)) return candidate;  // garbage: stop at the last address we could trust
    candidate = entry;
    if (!trusted.contains(entry)) return entry;
  }
  return candidate;
}

}  // namespace sluice::gateway
