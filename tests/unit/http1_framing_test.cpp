// HTTP/1.1's wire details of the front: the head it writes for each kind of response, chunk
// framing, and the gateway's own answers.
#include <doctest/doctest.h>

#include "gateway/server/http1_framing.h"

using namespace sluice;
using namespace sluice::gateway;

TEST_CASE("http/1.1 framing: a head without a length streams chunked - with one, or without a body, it does not") {
  bool chunked = false;
  pipeline::ResponseHead streaming{200, {{"Content-Type", "application/json"}}, false, false};
  const auto head = serialize_head(streaming, true, chunked);
  CHECK(chunked);
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(head.size() >= 4);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");

  pipeline::ResponseHead sized{200, {{"Content-Length", "5"}}, true, false};
  CHECK(serialize_head(sized, false, chunked).find("Connection: close\r\n") != std::string::npos);
  CHECK_FALSE(chunked);

  pipeline::ResponseHead none{204, {}, false, true};
  CHECK(serialize_head(none, true, chunked).find("chunked") == std::string::npos);
  CHECK_FALSE(chunked);

  // a 101 keeps the upgrade's own Connection and Upgrade fields and nothing is added
  pipeline::ResponseHead upgrade{101, {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}}, false, false};
  const auto switching = serialize_head(upgrade, false, chunked);
  CHECK_FALSE(chunked);
  CHECK(switching.find("Connection: Upgrade\r\n") != std::string::npos);
  CHECK(switching.find("close") == std::string::npos);
}

TEST_CASE("http/1.1 framing: chunks carry their size in hex - the last chunk is empty") {
  CHECK(chunk_encode("hello") == "5\r\nhello\r\n");
  CHECK(chunk_encode(std::string(26, 'x')).rfind("1a\r\n", 0) == 0);
  CHECK(kLastChunk == "0\r\n\r\n");
}

TEST_CASE("http/1.1 framing: a gateway answer has its length - a stage's Connection: close ends the connection") {
  bool keep = true;
  const auto reply = serialize_reply(503, "application/json", "{}", {{"Retry-After", "2"}}, keep);
  CHECK(keep);
  CHECK(reply.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
  CHECK(reply.find("Content-Length: 2\r\n") != std::string::npos);
  CHECK(reply.find("Retry-After: 2\r\n") != std::string::npos);
  CHECK(reply.find("Cache-Control: no-cache, private\r\n") != std::string::npos);
  CHECK(reply.substr(reply.size() - 6) == "\r\n\r\n{}");
  const auto closing = serialize_reply(502, "application/json", "{}", {{"Connection", "close"}}, keep);
  CHECK_FALSE(keep);
  CHECK(closing.find("Connection: close\r\n") != std::string::npos);  // said once, by the framing itself
}
