// The masking stage of the data path. From the request it decides what the response may need
// (plan_masking), makes the cluster answer in a form the gateway can read (prepare_request: JSON,
// uncompressed, no base64 WebSocket protocols), and builds the filter the response goes through
// (ResponseFilter): JSON bodies, pod logs, and exec/attach output. A response that needs masking
// but cannot be read is refused, never passed through (fail closed).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/request_info.h"
#include "gateway/masking/json_stream_masker.h"
#include "gateway/masking/stream_redactor.h"
#include "gateway/masking/websocket_redactor.h"
#include "common/header_list.h"

namespace sluice::gateway::masking {

struct MaskingPlan {
  enum class Kind { none, json, text, exec } kind = Kind::none;
  MaskScope scope;  // json: what the objects are; scope.profile points into `profile`
  std::shared_ptr<const MaskingProfile> profile;
};

// Secrets and TokenRequest answers (unless revealed) and resources the profile names fields of: JSON; pods/log: the
// detectors over text; pods/exec and pods/attach: the detectors over stdout and stderr.
MaskingPlan plan_masking(const common::RequestInfo& info, std::shared_ptr<const MaskingProfile> profile, bool reveal);

// A sentence for the client when the request itself cannot be served with masking (exec or attach
// over SPDY, whose streams the gateway does not decode); nullopt when it can.
std::optional<std::string> refuse_request(const MaskingPlan& plan, const HeaderList& client_headers);

// A write that carries the mask back (`kubectl get -o yaml | kubectl replace -f -` of a masked
// Secret) would replace the real values with the mask: refused with a sentence, nullopt when fine.
std::optional<std::string> refuse_masked_write(const MaskingPlan& plan, const common::RequestInfo& info,
                                               std::string_view body);

// Rewrites the headers going upstream: Accept without protobuf, CBOR or YAML (JSON instead), no
// Accept-Encoding (so nothing comes compressed), no base64 WebSocket subprotocols.
void prepare_request(const MaskingPlan& plan, HeaderList& headers);

// "application/json;as=Table;v=v1;g=meta.k8s.io, application/json" from what the client accepts.
std::string json_only_accept(std::string_view accept);

class ResponseFilter {
 public:
  // The filter for one response, or nullptr when it passes unchanged. When the response needs
  // masking but cannot be read (protobuf, compressed, an unknown upgrade), `refusal` says why and
  // nothing of it may reach the client.
  static std::unique_ptr<ResponseFilter> start(const MaskingPlan& plan, int status, std::string_view content_type,
                                               std::string_view content_encoding, std::string_view websocket_protocol,
                                               std::string& refusal);

  // Body bytes (or upgraded bytes) in, what may go to the client out. False: error() says why, and
  // the response must end here.
  bool feed(std::string_view in, std::string& out);
  // The end of the response: what is still held.
  bool finish(std::string& out);
  // Nothing came for a while: pass on what is held (StreamRedactor::flush).
  void idle_flush(std::string& out);
  bool holding() const;
  const std::string& error() const { return error_; }

 private:
  std::variant<std::unique_ptr<JsonStreamMasker>, std::unique_ptr<StreamRedactor>, std::unique_ptr<WebSocketRedactor>>
      impl_;
  std::string error_;
};

}  // namespace sluice::gateway::masking
