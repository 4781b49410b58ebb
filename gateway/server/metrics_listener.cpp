#include "gateway/server/metrics_listener.h"

#include <chrono>
#include <memory>
#include <stdexcept>

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sluice::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

class MetricsConnection : public std::enable_shared_from_this<MetricsConnection> {
 public:
  MetricsConnection(net::ip::tcp::socket socket, const MetricsListener::Handlers& handlers)
      : stream_(std::move(socket)), handlers_(handlers) {
    parser_.header_limit(8 * 1024);
  }

  void start() {
    stream_.expires_after(std::chrono::seconds(10));
    // The header alone: a body is not read but refused (405 or 413) and the connection closed.
    http::async_read_header(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->answer();
    });
  }

 private:
  void answer() {
    const auto& req = parser_.get();
    const std::string target(req.target());
    int code = 404;
    std::string type = "text/plain", body = "not found: this listener serves /metrics, /healthz and /readyz\n";
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      code = 405;
      body = "only GET and HEAD are served here\n";
    } else if (!parser_.is_done()) {
      code = 413;
      body = "a request here has no body\n";
    } else if (target == "/metrics") {
      code = 200;
      type = "text/plain; version=0.0.4";
      body = handlers_.metrics();
    } else if (target == "/healthz") {
      code = 200;
      body = "ok";
    } else if (target == "/readyz") {
      const bool ready = handlers_.ready();
      code = ready ? 200 : 503;
      body = ready ? "ok" : "database unreachable";
    }
    res_.result(static_cast<http::status>(code));
    res_.version(11);
    res_.set(http::field::content_type, type);
    res_.keep_alive(false);
    if (req.method() == http::verb::head) {
      res_.content_length(body.size());
    } else {
      res_.body() = std::move(body);
      res_.prepare_payload();
    }
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, std::size_t) { self->close(); });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const MetricsListener::Handlers& handlers_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> res_;
};

}  // namespace

MetricsListener::MetricsListener(net::io_context& io, const std::string& host, unsigned short port, Handlers handlers)
    : io_(io), acceptor_(io), handlers_(std::move(handlers)) {
  try {
    net::ip::tcp::endpoint ep(net::ip::make_address(host), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot serve metrics on " + host + ":" + std::to_string(port) + " (metrics.listen): " +
                             e.what());
  }
}

void MetricsListener::accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](boost::system::error_code ec, net::ip::tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) std::make_shared<MetricsConnection>(std::move(socket), handlers_)->start();
    accept();
  });
}

}  // namespace sluice::gateway
