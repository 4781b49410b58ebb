#include "gateway/masking/websocket_redactor.h"

#include <cstdint>

namespace sluice::gateway::masking {
namespace {
constexpr unsigned char kContinuation = 0x0, kBinary = 0x2, kClose = 0x8;
}  // namespace

WebSocketRedactor::WebSocketRedactor(std::shared_ptr<const MaskingProfile> profile) {
  channels_[1].emplace(profile);
  channels_[2].emplace(profile);
}

bool WebSocketRedactor::holding() const { return channels_[1]->holding() || channels_[2]->holding(); }

void WebSocketRedactor::emit_data(int channel, const std::string& data, std::string& out) {
  if (data.empty()) return;
  std::string payload(1, static_cast<char>(channel));
  payload += data;
  out += common::websocket_frame(kBinary, payload);
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
  reader_.feed(in);
  while (auto f = reader_.next()) {
    const bool data_frame = f->opcode == kBinary || f->opcode == kContinuation;
    int channel = -1;
    std::string_view data;
    if (f->opcode == kBinary && !f->payload.empty()) {
      channel = static_cast<unsigned char>(f->payload[0]);
      data = std::string_view(f->payload).substr(1);
      message_channel_ = f->fin ? -1 : channel;
    } else if (f->opcode == kContinuation) {
      channel = message_channel_;
      data = f->payload;
      if (f->fin) message_channel_ = -1;
    }
    if (data_frame && (channel == 1 || channel == 2)) {
      std::string clean;
      channels_[channel]->feed(data, clean);
      emit_data(channel, clean, out);
      continue;
    }
    // The exit status (channel 3), v5's close of a channel and the connection's close come after
    // all the output before them.
    if (f->opcode == kClose || (data_frame && (channel == 3 || channel == 255))) flush(out, true);
    out += common::websocket_frame(f->opcode, f->payload, f->fin);  // unchanged
  }
  if (!reader_.error().empty()) {
    error_ = "the cluster's WebSocket stream is malformed: " + reader_.error();
    return false;
  }
  return true;
}

}  // namespace sluice::gateway::masking
