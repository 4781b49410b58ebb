#include "gateway/masking/websocket_redactor.h"

#include <cstdint>

namespace sluice::gateway::masking {
namespace {
constexpr std::uint64_t kMaxFrame = 16u << 20;
constexpr unsigned char kContinuation = 0x0, kBinary = 0x2, kClose = 0x8;
}  // namespace

std::string websocket_frame(unsigned char opcode, std::string_view payload) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
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

WebSocketRedactor::WebSocketRedactor(std::shared_ptr<const MaskingProfile> profile) {
  channels_[1].emplace(profile);
  channels_[2].emplace(profile);
}

bool WebSocketRedactor::holding() const { return channels_[1]->holding() || channels_[2]->holding(); }

void WebSocketRedactor::emit_data(int channel, const std::string& data, std::string& out) {
  if (data.empty()) return;
  std::string payload(1, static_cast<char>(channel));
  payload += data;
  out += websocket_frame(kBinary, payload);
}

void WebSocketRedactor::flush(std::string& out, bool end_of_stream) {
  for (int ch : {1, 2}) {
    std::string data;
    channels_[ch]->flush(data, end_of_stream);
    emit_data(ch, data, out);
  }
}

bool WebSocketRedactor::feed(std::string_view in, std::string& out) {
  if (!error_.empty()) return false;
  buf_.append(in);
  std::size_t at = 0;
  while (buf_.size() - at >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + at);
    const std::size_t avail = buf_.size() - at;
    const bool fin = p[0] & 0x80;
    const unsigned char opcode = p[0] & 0x0F;
    const bool masked = p[1] & 0x80;
    std::uint64_t len = p[1] & 0x7F;
    std::size_t header = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (std::uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      header = 10;
    }
    if (len > kMaxFrame) {
      error_ = "a WebSocket frame from the cluster is larger than 16 MiB";
      return false;
    }
    const std::size_t key_at = header;
    if (masked) header += 4;
    if (avail < header + len) break;
    std::string payload = buf_.substr(at + header, static_cast<std::size_t>(len));
    if (masked)
      for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ p[key_at + i % 4]);
    const bool data_frame = opcode == kBinary || opcode == kContinuation;
    int channel = -1;
    std::string_view data;
    if (opcode == kBinary && !payload.empty()) {
      channel = static_cast<unsigned char>(payload[0]);
      data = std::string_view(payload).substr(1);
      message_channel_ = fin ? -1 : channel;
    } else if (opcode == kContinuation) {
      channel = message_channel_;
      data = payload;
      if (fin) message_channel_ = -1;
    }
    if (data_frame && (channel == 1 || channel == 2)) {
      std::string clean;
      channels_[channel]->feed(data, clean);
      emit_data(channel, clean, out);
    } else {
      // The exit status (channel 3), v5's close of a channel and the connection's close come
      // after all the output before them.
      if (opcode == kClose || (data_frame && (channel == 3 || channel == 255))) flush(out, true);
      out.append(buf_, at, header + static_cast<std::size_t>(len));  // unchanged
    }
    at += header + static_cast<std::size_t>(len);
  }
  buf_.erase(0, at);
  return true;
}

}  // namespace sluice::gateway::masking
