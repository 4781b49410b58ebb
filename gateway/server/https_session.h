// One client connection over HTTP/1.1 and TLS (Beast's advanced server, ../shared/STYLE.md §2):
// header and body limits, timeouts, one write at a time in order, lingering close. It reads each
// request into a RequestContext and hands it to a new stage chain (from the injected StageFactory);
// it is that chain's Downstream: it writes the answer (chunked when it streams) and relays an
// upgraded stream, and it tells the chain when the client goes away.
#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fifo.h"
#include "common/tls_socket_stream.h"
#include "gateway/pipeline/chain.h"
#include "gateway/server/proxy_context.h"

namespace sluice::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

// A new request's stages (stages/stage_order.h builds them; injected so the front knows none of them).
using StageFactory = std::function<std::vector<std::unique_ptr<pipeline::Stage>>()>;

class HttpsSession : public std::enable_shared_from_this<HttpsSession>, public pipeline::Downstream {
 public:
  // `tls` has completed its handshake (HttpsServer chose HTTP/1.1 by ALPN, or the client named none).
  HttpsSession(std::unique_ptr<common::TlsSocketStream> tls, ProxyContext& ctx, const StageFactory& stages);
  void start() { read_request(); }

  // pipeline::Downstream
  void local_reply(int code, const std::string& content_type, std::string body, const HeaderList& headers) override;
  void watch_client_while_waiting() override;
  void stop_watching(std::function<void()> resume) override;
  void send_head(pipeline::ResponseHead head, std::string body, bool end, Written written) override;
  void send_data(std::string data, bool end, Written written) override;
  void read_upgraded(std::function<void(std::optional<std::string>)> got) override;
  void finish_response(bool reusable) override;

 private:
  // A Beast completion handler: keeps this session alive, and an exception closes this connection
  // (logged; its request completes), never the io thread.
  template <class F>
  auto on_io(F f);
  void read_request();
  void read_header();
  void on_header(beast::error_code ec);
  void on_request(beast::error_code ec);
  void reply_status(int code, const std::string& message, const std::string& reason);
  void probe_waiting_client();
  void watch_streaming_client();
  void write(std::string data, Written written);
  void write_next();
  void client_gone();
  void linger_then_close();
  void close();

  std::unique_ptr<common::TlsSocketStream> tls_;
  common::TlsSocketStream& stream_;
  ProxyContext& ctx_;
  const StageFactory& stages_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  std::string connection_id_;  // groups the recordings of a client that sends no Kubectl-Session
  bool keep_alive_ = true, lingering_ = false, closed_ = false;
  std::shared_ptr<pipeline::Chain> chain_;  // the request in flight (or the last one)
  // A stage waits (reviewers): a read notices the client leaving; `resume_` runs once it is cancelled.
  bool probing_ = false;
  std::function<void()> resume_;
  // The response in flight.
  bool responding_ = false, chunked_ = false, upgraded_ = false, watching_ = false;
  std::optional<net::steady_timer> long_running_timer_;
  struct PendingWrite {
    std::string data;
    Written written;
  };
  common::Fifo<PendingWrite> out_;
  bool writing_ = false;
  std::vector<char> read_buf_;        // upgraded streams, lingering close
  std::array<char, 64> probe_buf_{};  // a waiting or streaming client: notices it leaving
};

}  // namespace sluice::gateway
