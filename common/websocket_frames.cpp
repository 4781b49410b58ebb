#include "common/websocket_frames.h"

#include <algorithm>

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

std::vector<std::size_t> WebSocketCloseFinder::close_frames(std::string_view chunk) {
  std::vector<std::size_t> found;
  std::size_t i = 0;
  while (i < chunk.size()) {
    if (payload_left_ > 0) {
      const auto skip = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, chunk.size() - i));
      i += skip;
      payload_left_ -= skip;
      continue;
    }
    // The opcode is in a header's first byte: a close is known where it begins, even if the rest
    // of its header comes with the next chunk.
    if (header_size_ == 0 && (static_cast<unsigned char>(chunk[i]) & 0x0f) == 8) found.push_back(i);
    auto need = [this]() -> std::size_t {
      if (header_size_ < 2) return 2;
      const unsigned len7 = header_[1] & 0x7f;
      return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header_[1] & 0x80) ? 4 : 0);
    };
    while (i < chunk.size() && header_size_ < need()) header_[header_size_++] = static_cast<unsigned char>(chunk[i++]);
    if (header_size_ < need()) break;  // the rest of the header comes with the next chunk
    std::uint64_t len = header_[1] & 0x7f;
    if (len == 126) len = (std::uint64_t{header_[2]} << 8) | header_[3];
    if (len == 127) {
      len = 0;
      for (int k = 2; k < 10; ++k) len = (len << 8) | header_[k];
    }
    payload_left_ = len;
    header_size_ = 0;
  }
  return found;
}

}  // namespace sluice::common
