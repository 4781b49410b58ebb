// WebSocket framing (RFC 6455) for the streams the gateway looks into: exec and attach over the
// channel protocols. An incremental reader (bytes in, whole frames out, unmasked) and a writer of
// unmasked frames, as a server sends them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Where close frames begin in a server's byte stream, found from the frame headers alone (no
// payload is copied), across chunks. The gateway writes a close frame in a TLS record of its own,
// as kube-apiserver does: kubernetes-client/python misses a close that shares a record with the
// frame before it and waits forever (its issue #2414).
class WebSocketCloseFinder {
 public:
  // Offsets in `chunk`, in order, at which a close frame's header begins.
  std::vector<std::size_t> close_frames(std::string_view chunk);

 private:
  std::uint64_t payload_left_ = 0;
  unsigned char header_[14] = {};
  std::size_t header_size_ = 0;  // bytes of a header read so far (it may span chunks)
};

std::string websocket_frame(unsigned char opcode, std::string_view payload, bool fin = true);

}  // namespace sluice::common
