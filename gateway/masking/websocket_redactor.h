// exec and attach output over WebSocket (v5/v4.channel.k8s.io): the frames the cluster sends are
// decoded, stdout (channel 1) and stderr (channel 2) go through a StreamRedactor each, and the
// result is framed anew; every other frame (the exit status on channel 3, close, ping) passes
// unchanged, after what the redactors held for the channels before it.
#pragma once
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/websocket_frames.h"
#include "gateway/masking/stream_redactor.h"

namespace sluice::gateway::masking {

class WebSocketRedactor {
 public:
  explicit WebSocketRedactor(std::shared_ptr<const MaskingProfile> profile);

  // Appends the frames that can go to the client now. False: the bytes are not WebSocket frames
  // (or a frame is over 16 MiB); error() says why, and the caller must end the connection.
  bool feed(std::string_view in, std::string& out);
  // What the redactors hold, as frames (see StreamRedactor::flush).
  void flush(std::string& out, bool end_of_stream);
  bool holding() const;
  const std::string& error() const { return error_; }

 private:
  void emit_data(int channel, const std::string& data, std::string& out);

  std::array<std::optional<StreamRedactor>, 3> channels_;  // index 1 stdout, 2 stderr
  common::WebSocketFrameReader reader_;
  int message_channel_ = -1;  // the channel of a fragmented message, for its continuation frames
  std::string error_;
};

}  // namespace sluice::gateway::masking
