// The recording of one exchange, fed by the proxy session as the exchange goes: the request (head
// without credentials, body as masked for the record), the response exactly as the client got it,
// and for exec/attach over WebSocket the decoded streams as asciicast v2 events (output, input,
// resizes) with the exit status. Bodies are hashed in full; what is stored stops at the cap.
// Everything goes to the RecordingWriter's queue; nothing here waits for the database.
#pragma once
#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/websocket_frames.h"
#include "gateway/masking/stream_redactor.h"
#include "gateway/recording/recording_writer.h"

namespace sluice::gateway::recording {

class ExchangeRecorder {
 public:
  // start.kind: "exec" (exec/attach over WebSocket), "raw" (other upgrades) or "http".
  ExchangeRecorder(RecordingWriter& writer, ExchangeStart start, std::uint64_t max_body_bytes,
                   std::shared_ptr<const masking::MaskingProfile> profile);
  ~ExchangeRecorder();
  ExchangeRecorder(const ExchangeRecorder&) = delete;
  ExchangeRecorder& operator=(const ExchangeRecorder&) = delete;

  void request_body(std::string_view masked);
  // A body that may hold secrets and could not be masked for the record: only its size and hash.
  void request_body_withheld(std::string_view body);
  void response_head(int status, nlohmann::json headers);
  void from_cluster(std::string_view data);  // response body or upgraded bytes, as the client got them
  void from_client(std::string_view data);   // upgraded bytes the client sent
  void finish();

 private:
  class Stream {
   public:
    Stream(RecordingWriter& w, std::string id, std::string name, std::uint64_t cap);
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    void add(std::string_view data, bool store = true);
    StreamSummary close();

   private:
    void push();
    RecordingWriter& writer_;
    std::string id_, name_;
    std::uint64_t cap_, stored_ = 0;
    int seq_ = 0;
    StreamSummary summary_;
    EVP_MD_CTX* sha_;
    std::string buf_;
    std::chrono::steady_clock::time_point first_at_;  // when buf_'s oldest byte came
  };
  void cast_event(const char* type, std::string_view data);
  void on_cluster_frame(const common::WebSocketFrame& f);
  void on_client_frame(const common::WebSocketFrame& f);

  RecordingWriter& writer_;
  ExchangeEnd end_;
  std::string kind_;
  std::chrono::steady_clock::time_point t0_;
  Stream request_, response_;
  std::optional<Stream> cast_;
  // exec: the frames both ways, stdin redacted for the record, UTF-8 kept whole across frames
  common::WebSocketFrameReader cluster_frames_, client_frames_;
  std::optional<masking::StreamRedactor> stdin_redactor_;
  std::string utf8_carry_[3];  // stdin, stdout, stderr
  bool finished_ = false;
};

// "kubectl:<user>:<cluster>:<Kubectl-Session>" or, without that header, one per connection.
std::string session_key(const std::string& user, const std::string& cluster, const std::string& kubectl_session,
                        const std::string& connection_id);

}  // namespace sluice::gateway::recording
