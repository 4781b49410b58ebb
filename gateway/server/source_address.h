// The client's address as the audit records it. X-Forwarded-For is believed only when the
// connection comes from a configured trusted proxy (a load balancer in front of the gateway);
// otherwise anyone could name any address. Pure code.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace sluice::gateway {

class TrustedProxies {
 public:
  // Each entry an address or a CIDR ("10.0.0.0/8", "fd00::/8"); false with `error` on a bad one.
  bool parse(const std::vector<std::string>& entries, std::string& error);
  bool contains(const std::string& address) const;
  bool empty() const { return ranges_.empty(); }

 private:
  struct Range {
    std::vector<unsigned char> network;  // 4 or 16 bytes
    int prefix = 0;
  };
  std::vector<Range> ranges_;
};

// The peer, or — when the peer is a trusted proxy — the rightmost X-Forwarded-For entry that is
// not itself a trusted proxy (entries left of it could have been written by the client).
std::string source_address(const std::string& peer, std::string_view forwarded_for, const TrustedProxies& trusted);

}  // namespace sluice::gateway
