#include "gateway/pipeline/response_rewrite.h"

#include <boost/beast/core/string.hpp>

namespace sluice::gateway {
namespace beast = boost::beast;

bool is_bodiless(int status, bool head_request) {
  return status == 204 || status == 304 || status < 200 || head_request;
}

pipeline::ResponseHead rewrite_response_head(int status, const HeaderList& upstream, bool body_rewritten,
                                             bool head_request) {
  pipeline::ResponseHead out;
  out.status = status;
  out.bodiless = is_bodiless(status, head_request);
  const bool upgraded = status == 101;
  for (const auto& [name, value] : upstream) {
    if (beast::iequals(name, "Transfer-Encoding") || beast::iequals(name, "Keep-Alive") ||
        beast::iequals(name, "Proxy-Connection") || beast::iequals(name, "Trailer"))
      continue;
    if ((beast::iequals(name, "Connection") || beast::iequals(name, "Upgrade")) && !upgraded) continue;
    if (beast::iequals(name, "Content-Length")) {
      if (body_rewritten) continue;  // a masked body has a length of its own
      out.has_length = true;
    }
    out.headers.emplace_back(name, value);
  }
  return out;
}

}  // namespace sluice::gateway
