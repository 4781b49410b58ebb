// A bidirectional byte or message pipe after an HTTP upgrade: WebSocket (one message per send)
// or the raw TLS stream (SPDY). Exec and port-forward sessions are written against this.
#pragma once
#include <functional>
#include <memory>
#include <string>

namespace sluice::standin {

class Transport {
 public:
  virtual ~Transport() = default;
  // Starts reading; `on_data` gets each message (WebSocket) or each chunk read (raw).
  virtual void start(std::function<void(std::string)> on_data, std::function<void()> on_close) = 0;
  virtual void send(std::string data) = 0;  // queued, written in order
  virtual void close() = 0;                 // after queued data is written
  virtual bool is_websocket() const = 0;
};

}  // namespace sluice::standin
