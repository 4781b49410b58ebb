// WebSocket framing (RFC 6455) for the streams the gateway looks into: exec and attach over the
// channel protocols. An incremental reader (bytes in, whole frames out, unmasked) and a writer of
// unmasked frames, as a server sends them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::common {

struct WebSocketFrame {
  bool fin = true;
  unsigned char opcode = 0;  // 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong
  std::string payload;       // unmasked
};

class WebSocketFrameReader {
 public:
  explicit WebSocketFrameReader(std::uint64_t max_frame = 16u << 20) : max_frame_(max_frame) {}
  void feed(std::string_view in) { buf_.append(in); }
  // The next whole frame, or nullopt until more bytes come (or on an error: see error()).
  std::optional<WebSocketFrame> next();
  const std::string& error() const { return error_; }

 private:
  std::uint64_t max_frame_;
  std::string buf_;
  std::size_t at_ = 0;
  std::string error_;
};

std::string websocket_frame(unsigned char opcode, std::string_view payload, bool fin = true);

}  // namespace sluice::common
