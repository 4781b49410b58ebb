#include "gateway/server/http1_framing.h"

#include <cstdio>
#include <sstream>

namespace sluice::gateway {
namespace http = boost::beast::http;

pipeline::RequestContext request_context_from(http::request<http::string_body>& req) {
  pipeline::RequestContext r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  for (const auto& f : req) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  r.body = std::move(req.body());
  r.upgrade = req.find(http::field::upgrade) != req.end();
  return r;
}

std::string serialize_head(const pipeline::ResponseHead& head, bool keep_alive, bool& chunked) {
  http::response<http::empty_body> res{static_cast<http::status>(head.status), 11};
  for (const auto& [k, v] : head.headers) res.insert(k, v);
  chunked = false;
  if (head.status != 101) {  // an upgrade's Connection and Upgrade fields are the head's own
    chunked = !head.has_length && !head.bodiless;
    if (chunked) res.chunked(true);
    res.keep_alive(keep_alive);
  }
  std::ostringstream out;
  out << res.base();
  return out.str();
}

std::string serialize_reply(int code, const std::string& content_type, std::string body, const HeaderList& headers,
                            bool& keep_alive) {
  pipeline::ResponseHead head{code, {{"Content-Type", content_type}, {"Cache-Control", "no-cache, private"}}, true, false};
  for (const auto& [k, v] : headers) {
    if (boost::beast::iequals(k, "Connection") && boost::beast::iequals(v, "close")) keep_alive = false;
    else head.headers.emplace_back(k, v);
  }
  head.headers.emplace_back("Content-Length", std::to_string(body.size()));
  bool chunked = false;
  std::string out = serialize_head(head, keep_alive, chunked);
  return out.append(body);  // one copy of the body (a REST answer may be megabytes)
}

std::string chunk_encode(std::string_view data) {
  char size[24];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out;
  out.reserve(data.size() + 32);
  return out.append(size).append(data).append("\r\n");
}

}  // namespace sluice::gateway
