// libFuzzer target for the request classifier and the URL/query decoder. The input is
// "METHOD TARGET" (no space: GET). Beyond "never crashes": every accepted request must name what
// it touches with plain path segments, and a decoded query must survive encoding and decoding again.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/request_info.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool plain_segment(const std::string& s) { return s.find('/') == std::string::npos && s != "." && s != ".."; }

bool has_control(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto space = input.find(' ');
  std::string_view method = space == std::string_view::npos ? "GET" : input.substr(0, space);
  std::string_view target = space == std::string_view::npos ? input : input.substr(space + 1);

  auto result = sluice::common::classify_request(method, target);
  if (!result.ok()) require(result.code >= 400 && result.code < 500 && !result.error.empty());
  if (result.ok()) {
    const auto& info = result.info;
    require(!info.path.empty() && info.path.front() == '/');
    for (const auto& part : info.parts) require(!part.empty() && plain_segment(part) && !has_control(part));
    require(!has_control(info.path));
    // Only reads under the legacy /watch/ and /proxy/ prefixes (kube-apiserver: 405).
    const bool legacy = info.path.find("/watch/") != std::string::npos || info.path.find("/proxy/") != std::string::npos;
    if (legacy && (info.verb == "watch" || info.verb == "proxy")) require(method == "GET" || method == "HEAD");
    // The gateway and the API server read the same dryRun, and it can only be All (else 422).
    const auto q = target.find('?');
    const auto query = sluice::common::decode_query(q == std::string_view::npos ? std::string_view{} : target.substr(q + 1));
    int dry_runs = 0;
    for (const auto& [key, value] : query.params)
      if (key == "dryRun") {
        ++dry_runs;
        require(value == "All");
      }
    require(dry_runs <= 1 && info.dry_run == (dry_runs == 1));
    if (info.is_resource_request) {
      require(!info.api_version.empty() && !info.resource.empty());
      require(plain_segment(info.namespace_name) && plain_segment(info.name) && plain_segment(info.subresource));
      static const std::string_view verbs[] = {"get",   "list",   "watch",  "create",           "update",
                                               "patch", "delete", "deletecollection", "proxy", ""};
      bool known = false;
      for (auto v : verbs) known = known || info.verb == v;
      require(known);
      if (info.subresource == "exec" && info.resource == "pods" && info.api_group.empty() &&
          (method == "GET" || method == "POST"))
        require(info.verb == "create");
    }
  }

  auto query = sluice::common::decode_query(target);
  std::string again;
  for (const auto& [key, value] : query.params) {
    if (!again.empty()) again += '&';
    again += sluice::common::percent_encode(key) + "=" + sluice::common::percent_encode(value);
  }
  auto second = sluice::common::decode_query(again);
  require(second.ok);
  require(second.params == query.params);
  return 0;
}
