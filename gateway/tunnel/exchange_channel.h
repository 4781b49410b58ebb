// The gateway's end of one Exchange call, usable from any thread: the Asio session that proxies a
// request writes GatewayFrames (one in flight at a time) and reads AgentFrames. Reads run ahead of
// the session into a queue of at most kReadAheadBytes, so the agent keeps streaming while the
// client write is in progress; past that the call stops reading and HTTP/2 flow control pushes
// back on the agent. Handlers run on gRPC threads: callers post them to their strand.
#pragma once
#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/fifo.h"
#include "gateway/tunnel/admission.h"
#include "proto/tunnel.grpc.pb.h"

namespace sluice::gateway::tunnel {

namespace pb = ::sluice::tunnel::v1;

class TunnelRegistry;

class ExchangeChannel : public std::enable_shared_from_this<ExchangeChannel> {
 public:
  using ReadHandler = std::function<void(std::optional<pb::AgentFrame>)>;  // nullopt: the call ended
  using WriteHandler = std::function<void(bool ok)>;
  static constexpr std::size_t kReadAheadBytes = 256 * 1024;

  void write(pb::GatewayFrame frame, WriteHandler done);
  void read(ReadHandler handler);
  // Ends the call; `ok` false tells the agent to cancel its upstream request.
  void finish(bool ok);
  // After a cleanly completed exchange (request fully sent, response complete): the call goes back
  // to its tunnel's idle exchanges for the next request, saving a new HTTP/2 stream per request.
  void release();
  const std::string& tunnel_id() const { return tunnel_id_; }

 private:
  friend class ExchangeReactor;
  void start_read_locked();
  std::recursive_mutex mu_;
  grpc::ServerBidiReactor<pb::AgentFrame, pb::GatewayFrame>* reactor_ = nullptr;  // null after OnDone
  bool finished_ = false, broken_ = false, read_pending_ = false, taken_ = false;
  std::string tunnel_id_;
  TunnelRegistry* registry_ = nullptr;
  pb::GatewayFrame out_;
  pb::AgentFrame in_;
  common::Fifo<pb::AgentFrame> ahead_;  // frames read before the session asked for them
  std::size_t ahead_bytes_ = 0;
  WriteHandler on_write_;
  ReadHandler on_read_;
};

// Creates the reactor for a new Exchange call; it reads once admitted for an agent's cluster.
AdmittedReactor<pb::AgentFrame, pb::GatewayFrame>* make_exchange_reactor(TunnelRegistry& registry);

}  // namespace sluice::gateway::tunnel
