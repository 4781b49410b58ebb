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


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto space = input.find(' ');
  std::string_view method = space == std::string_view::npos ? "GET" : input.substr(0, space);
  std::string_view target = space == std::string_view::npos ? input : input.substr(space + 1);

  auto result = sluice::common::classify_request(method, target);
  if (result.ok()) {
    const auto& info = result.info;
    require(!info.path.empty() && info.path.front() == '/');
    for (const auto& part : info.parts) require(!part.empty() && plain_segment(part));
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
