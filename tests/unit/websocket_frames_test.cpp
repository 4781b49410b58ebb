// WebSocketCloseFinder: where close frames begin in a server's stream, however it is cut into
// chunks (the gateway writes a close in a TLS record of its own for kubernetes-client/python).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/websocket_frames.h"

using namespace sluice::common;

namespace {

// The close offsets the finder reports when `stream` arrives in chunks of `size` bytes.
std::vector<std::size_t> found_in_chunks(const std::string& stream, std::size_t size) {
  WebSocketCloseFinder finder;
  std::vector<std::size_t> found;
  for (std::size_t at = 0; at < stream.size(); at += size)
    for (auto offset : finder.close_frames(std::string_view(stream).substr(at, size))) found.push_back(at + offset);
  return found;
}

}  // namespace

TEST_CASE("websocket close finder: the status frame and the close after it, one chunk or many") {
  const std::string stdout_frame = websocket_frame(2, std::string("\x01") + "hello");
  const std::string status = websocket_frame(2, std::string("\x03") + R"({"status":"Success"})");
  const std::string close = websocket_frame(8, std::string("\x03\xe8", 2));
  const std::string stream = stdout_frame + status + close;
  WebSocketCloseFinder finder;
  CHECK(finder.close_frames(stream) == std::vector<std::size_t>{stdout_frame.size() + status.size()});
  for (std::size_t size : {1, 2, 3, 5, 7, 64})
    CHECK(found_in_chunks(stream, size) == std::vector<std::size_t>{stdout_frame.size() + status.size()});
}

TEST_CASE("websocket close finder: a payload that looks like a close header is payload") {
  // 0x88 inside data, lengths of 126 (16-bit) and 127 (64-bit) forms
  const std::string fake(300, '\x88');
  const std::string big(70000, '\x88');
  const std::string stream = websocket_frame(2, fake) + websocket_frame(2, big) + websocket_frame(8, "");
  const std::size_t close_at = stream.size() - 2;
  CHECK(found_in_chunks(stream, stream.size()) == std::vector<std::size_t>{close_at});
  CHECK(found_in_chunks(stream, 4096) == std::vector<std::size_t>{close_at});
  CHECK(found_in_chunks(stream, 1) == std::vector<std::size_t>{close_at});
  WebSocketCloseFinder finder;
  CHECK(finder.close_frames(websocket_frame(2, fake)).empty());
}
