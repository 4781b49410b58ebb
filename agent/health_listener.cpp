#include "agent/health_listener.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>

namespace sluice::agent {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {
struct ProbeSession : std::enable_shared_from_this<ProbeSession> {
  ProbeSession(tcp::socket socket, std::function<bool()>& ready) : stream(std::move(socket)), ready(ready) {}

  void start() {
    parser.header_limit(4096);
    parser.body_limit(0);
    stream.expires_after(std::chrono::seconds(5));
    http::async_read(stream, buffer, parser, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->answer();
    });
  }

  void answer() {
    const auto& req = parser.get();
    const std::string target(req.target());
    int code = 404;
    std::string body = "not found: /healthz or /readyz\n";
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      code = 405;
      body = "GET only\n";
    } else if (target == "/healthz") {
      code = 200;
      body = "ok\n";
    } else if (target == "/readyz") {
      const bool ok = ready();
      code = ok ? 200 : 503;
      body = ok ? "ok: connected to the gateway\n" : "not connected to the gateway\n";
    }
    res.result(static_cast<http::status>(code));
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(false);
    res.body() = req.method() == http::verb::head ? "" : body;
    res.prepare_payload();
    http::async_write(stream, res, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream;
  std::function<bool()>& ready;
  beast::flat_buffer buffer{4096};
  http::request_parser<http::empty_body> parser;
  http::response<http::string_body> res;
};
}  // namespace

HealthListener::HealthListener(boost::asio::io_context& io, const std::string& host, unsigned short port,
                               std::function<bool()> ready)
    : io_(io), acceptor_(io, tcp::endpoint(boost::asio::ip::make_address(host), port)), ready_(std::move(ready)) {
  accept();
}

void HealthListener::accept() {
  acceptor_.async_accept(io_, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (!ec) std::make_shared<ProbeSession>(std::move(socket), ready_)->start();
    accept();
  });
}

}  // namespace sluice::agent
