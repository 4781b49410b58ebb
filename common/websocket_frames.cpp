#include "common/websocket_frames.h"

namespace sluice::common {

std::optional<WebSocketFrame> WebSocketFrameReader::next() {
  if (!error_.empty()) return std::nullopt;
  if (at_ > 0 && at_ >= buf_.size() / 2) {  // drop what was read, now and then
    buf_.erase(0, at_);
    at_ = 0;
  }
  const std::size_t avail = buf_.size() - at_;
  if (avail < 2) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + at_);
  WebSocketFrame f;
  f.fin = p[0] & 0x80;
  f.opcode = p[0] & 0x0F;
  const bool masked = p[1] & 0x80;
  std::uint64_t len = p[1] & 0x7F;
  std::size_t header = 2;
  if (len == 126) {
    if (avail < 4) return std::nullopt;
    len = (std::uint64_t{p[2]} << 8) | p[3];
    header = 4;
  } else if (len == 127) {
    if (avail < 10) return std::nullopt;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    header = 10;
  }
  if (len > max_frame_) {
    error_ = "a WebSocket frame of " + std::to_string(len) + " bytes is over the limit of " + std::to_string(max_frame_);
    return std::nullopt;
  }
  const std::size_t key_at = header;
  if (masked) header += 4;
  if (avail < header + len) return std::nullopt;
  f.payload = buf_.substr(at_ + header, static_cast<std::size_t>(len));
  if (masked)
    for (std::size_t i = 0; i < f.payload.size(); ++i) f.payload[i] = static_cast<char>(f.payload[i] ^ p[key_at + i % 4]);
  at_ += header + static_cast<std::size_t>(len);
  return f;
}

std::string websocket_frame(unsigned char opcode, std::string_view payload, bool fin) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | opcode);
  const std::uint64_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    f += static_cast<char>(126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) f += static_cast<char>((n >> shift) & 0xFF);
  }
  f.append(payload);
  return f;
}

}  // namespace sluice::common
