// The agent's side of one exchange toward the API server: sends the request from the tunnel,
// streams the response back frame by frame (the next read waits for the previous frame to be
// accepted: that is the flow control), and relays raw bytes both ways after a 101.
#pragma once
#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/upstream_config.h"
#include "common/tls_socket_stream.h"
#include "proto/tunnel.grpc.pb.h"

namespace sluice::agent {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace pb = ::sluice::tunnel::v1;
using UpstreamStream = common::TlsSocketStream;  // see common/tls_socket_stream.h: 68 KiB less per connection

// Keep-alive connections to the API server, shared by all exchanges.
class ConnectionPool {
 public:
  ConnectionPool(net::io_context& io, UpstreamConfig config);
  const UpstreamConfig& config() const { return config_; }
  net::ssl::context& tls() { return tls_; }
  net::io_context& io() { return io_; }
  std::unique_ptr<UpstreamStream> take_idle();
  void give_back(std::unique_ptr<UpstreamStream> stream);

 private:
  net::io_context& io_;
  UpstreamConfig config_;
  net::ssl::context tls_;
  std::mutex mu_;
  std::deque<std::unique_ptr<UpstreamStream>> idle_;
};

// Where an exchange sends frames toward the gateway; `accepted` runs once the frame is written.
using FrameSink = std::function<void(pb::AgentFrame frame, std::function<void(bool ok)> accepted)>;

class ApiServerExchange : public std::enable_shared_from_this<ApiServerExchange> {
 public:
  ApiServerExchange(ConnectionPool& pool, pb::RequestHead head, FrameSink sink);
  // All of these may be called from any thread; the work runs on the exchange's strand.
  void add_body(std::string chunk);
  void end_of_body();
  void upgraded_from_client(std::string data, std::function<void()> written);
  void cancel();

 private:
  void connect(bool fresh);
  void on_connected();
  void send_request();
  void read_head();
  std::string parse_buffered_body();
  void read_body();
  void read_more();
  bool more_waiting();
  void relay_from_upstream();
  // Ends the exchange with `last` (default: an End frame); `reuse` returns the connection to the pool.
  void finish(bool reuse, std::optional<pb::AgentFrame> last = std::nullopt);
  void fail(const std::string& reason);
  void emit(pb::AgentFrame frame, std::function<void()> next);

  ConnectionPool& pool_;
  net::strand<net::io_context::executor_type> strand_;
  pb::RequestHead head_;
  FrameSink sink_;
  std::string body_;
  std::unique_ptr<UpstreamStream> stream_;
  bool from_pool_ = false, done_ = false, upgraded_ = false, request_sent_ = false;
  std::shared_ptr<http::request<http::string_body>> request_;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser_;
  beast::flat_buffer buffer_;
  // A read returns one TLS record (16 KiB) at most; while more is already waiting (a list
  // streaming) reads go on into the same frame, up to kChunkBytes: fewer, larger tunnel messages.
  static constexpr std::size_t kChunkBytes = 256 * 1024;
  static constexpr std::size_t kMinChunkBytes = 2 * 1024;
  static constexpr std::size_t kUpgradedChunkBytes = 16 * 1024;  // exec, attach, port-forward
  std::size_t read_bytes_ = kMinChunkBytes;  // the next frame's room, kMinChunkBytes..kChunkBytes
  std::string chunk_;       // becomes the next frame's payload (moved, not copied)
  std::size_t filled_ = 0;  // bytes of chunk_ read so far
};

}  // namespace sluice::agent
