// HTTP/1.1's own wire details, apart from the connection that uses them: a request read by Beast
// into the chain's RequestContext, and a chain's response head and body pieces as bytes
// (chunked when the length is not known in advance).
#pragma once
#include <boost/beast/http.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "gateway/pipeline/chain.h"

namespace sluice::gateway {

// What the request said, moved out of Beast's message (the body too): the chain's copy is the only one.
pipeline::RequestContext request_context_from(boost::beast::http::request<boost::beast::http::string_body>& req);

// The status line and fields; `chunked` tells the caller to frame the body with chunk_encode.
std::string serialize_head(const pipeline::ResponseHead& head, bool keep_alive, bool& chunked);
std::string chunk_encode(std::string_view data);
// An answer of the gateway's own, whole. A `Connection: close` among `headers` is a stage's wish
// to end the connection after it: it clears `keep_alive` instead of being copied.
std::string serialize_reply(int code, const std::string& content_type, std::string body, const HeaderList& headers,
                            bool& keep_alive);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace sluice::gateway
