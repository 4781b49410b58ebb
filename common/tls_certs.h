// Self-signed CA and leaf certificates (ECDSA P-256) for the demo, the tests and the stand-in.
#pragma once
#include <string>
#include <vector>

namespace sluice::common {

struct PemPair {
  std::string cert_pem;
  std::string key_pem;
};

struct LeafSpec {
  std::string common_name;
  std::vector<std::string> organizations;  // become the O= entries: Kubernetes reads them as groups
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool server = true;  // serverAuth, else clientAuth
  int days = 365;
};

PemPair generate_ca(const std::string& common_name, int days = 3650);
PemPair generate_leaf(const PemPair& ca, const LeafSpec& spec);

// Whether the first certificate in `cert_pem` is valid for DNS name `host` (wildcards as TLS
// clients match them). False for PEM that does not parse.
bool certificate_covers(const std::string& cert_pem, const std::string& host);

// Writes `contents` to `path` with the given mode (0600 for keys) or throws.
void write_file(const std::string& path, const std::string& contents, unsigned mode = 0644);
std::string read_file(const std::string& path);

}  // namespace sluice::common
