#include "port_forward.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <deque>
#include <map>

#include "spdy_session.h"

namespace sluice::standin {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

struct Connection {
  std::uint32_t data_stream = 0, error_stream = 0;
  std::shared_ptr<tcp::socket> socket;
  std::deque<std::string> pending;  // data that arrived before the socket connected, or while writing
  bool connected = false, writing = false, remote_fin = false;
  std::array<char, 32768> buf{};
};

class PortForwardSession : public std::enable_shared_from_this<PortForwardSession> {
 public:
  PortForwardSession(net::io_context& io, std::function<unsigned short(unsigned short)> target)
      : io_(io), target_(std::move(target)) {}

  void start(std::shared_ptr<Transport> transport) {
    std::weak_ptr<PortForwardSession> weak = weak_from_this();
    SpdySession::Handlers h;
    h.on_stream = [weak](std::uint32_t id, const SpdyHeaders& headers) {
      if (auto s = weak.lock()) s->on_stream(id, headers);
    };
    h.on_data = [weak](std::uint32_t id, std::string data) {
      if (auto s = weak.lock()) s->on_data(id, std::move(data));
    };
    h.on_remote_fin = [weak](std::uint32_t id) {
      if (auto s = weak.lock()) s->on_fin(id);
    };
    h.on_reset = [weak](std::uint32_t id) {
      if (auto s = weak.lock()) s->on_reset(id);
    };
    h.on_closed = [self = shared_from_this()]() { self->shutdown(); };
    spdy_ = std::make_shared<SpdySession>(std::move(transport), std::move(h));
    spdy_->start();
  }

 private:
  void on_stream(std::uint32_t id, const SpdyHeaders& headers) {
    const std::string type = header_value(headers, "streamtype");
    const std::string request = header_value(headers, "requestid");
    const std::string port_text = header_value(headers, "port");
    auto& conn = conns_[request];
    if (type == "error") {
      conn.error_stream = id;
      return;
    }
    if (type != "data") return spdy_->send_reset(id, 1);
    conn.data_stream = id;
    stream_to_request_[id] = request;
    unsigned long pod_port = std::strtoul(port_text.c_str(), nullptr, 10);
    unsigned short local = (pod_port > 0 && pod_port < 65536) ? target_(static_cast<unsigned short>(pod_port)) : 0;
    if (local == 0) return fail(request, "unable to do port forwarding: invalid port \"" + port_text + "\"");
    conn.socket = std::make_shared<tcp::socket>(io_);
    conn.socket->async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), local),
                               [self = shared_from_this(), request, port_text](boost::system::error_code ec) {
                                 auto it = self->conns_.find(request);
                                 if (it == self->conns_.end()) return;
                                 if (ec)
                                   return self->fail(request, "error forwarding port " + port_text +
                                                                  " to pod: connection refused");
                                 it->second.connected = true;
                                 self->flush(request);
                                 self->read(request);
                               });
  }

  void on_data(std::uint32_t id, std::string data) {
    auto r = stream_to_request_.find(id);
    if (r == stream_to_request_.end()) return;
    auto& conn = conns_[r->second];
    conn.pending.push_back(std::move(data));
    if (conn.connected && !conn.writing) flush(r->second);
  }

  void on_fin(std::uint32_t id) {
    auto r = stream_to_request_.find(id);
    if (r == stream_to_request_.end()) return;
    auto& conn = conns_[r->second];
    conn.remote_fin = true;
    if (conn.connected && !conn.writing) flush(r->second);
  }

  void on_reset(std::uint32_t id) {
    auto r = stream_to_request_.find(id);
    if (r == stream_to_request_.end()) return;
    close_connection(r->second);
  }

  void flush(const std::string& request) {
    auto& conn = conns_[request];
    if (conn.pending.empty()) {
      conn.writing = false;
      if (conn.remote_fin && conn.socket) {
        boost::system::error_code ec;
        conn.socket->shutdown(tcp::socket::shutdown_send, ec);
      }
      return;
    }
    conn.writing = true;
    auto sock = conn.socket;
    net::async_write(*sock, net::buffer(conn.pending.front()),
                     [self = shared_from_this(), request, sock](boost::system::error_code ec, std::size_t) {
                       auto it = self->conns_.find(request);
                       if (it == self->conns_.end()) return;
                       it->second.pending.pop_front();
                       if (ec) return self->close_connection(request);
                       self->flush(request);
                     });
  }

  void read(const std::string& request) {
    auto& conn = conns_[request];
    auto sock = conn.socket;
    sock->async_read_some(net::buffer(conn.buf), [self = shared_from_this(), request, sock](boost::system::error_code ec,
                                                                                            std::size_t n) {
      auto it = self->conns_.find(request);
      if (it == self->conns_.end()) return;
      if (n > 0) self->spdy_->send_data(it->second.data_stream, std::string(it->second.buf.data(), n));
      if (ec) return self->close_connection(request);
      self->read(request);
    });
  }

  void fail(const std::string& request, const std::string& message) {
    auto& conn = conns_[request];
    if (conn.error_stream) spdy_->send_data(conn.error_stream, message, true);
    close_connection(request);
  }

  void close_connection(const std::string& request) {
    auto it = conns_.find(request);
    if (it == conns_.end()) return;
    auto& conn = it->second;
    if (conn.data_stream) spdy_->send_data(conn.data_stream, "", true);
    if (conn.error_stream) spdy_->send_data(conn.error_stream, "", true);
    if (conn.socket) {
      boost::system::error_code ec;
      conn.socket->close(ec);
    }
    stream_to_request_.erase(conn.data_stream);
    conns_.erase(it);
  }

  void shutdown() {
    std::vector<std::string> requests;
    for (const auto& [r, c] : conns_) requests.push_back(r);
    for (const auto& r : requests) {
      auto it = conns_.find(r);
      if (it != conns_.end() && it->second.socket) {
        boost::system::error_code ec;
        it->second.socket->close(ec);
      }
    }
    conns_.clear();
  }

  net::io_context& io_;
  std::function<unsigned short(unsigned short)> target_;
  std::shared_ptr<SpdySession> spdy_;
  std::map<std::string, Connection> conns_;
  std::map<std::uint32_t, std::string> stream_to_request_;
};

class EchoConnection : public std::enable_shared_from_this<EchoConnection> {
 public:
  explicit EchoConnection(tcp::socket s) : socket_(std::move(s)) {}
  void start() { read(); }

 private:
  void read() {
    socket_.async_read_some(net::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) {
        boost::system::error_code ignored;
        self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      net::async_write(self->socket_, net::buffer(self->buf_.data(), n),
                       [self](boost::system::error_code wec, std::size_t) {
                         if (!wec) self->read();
                       });
    });
  }
  tcp::socket socket_;
  std::array<char, 16384> buf_{};
};

void accept_echo(std::shared_ptr<tcp::acceptor> acceptor) {
  acceptor->async_accept([acceptor](boost::system::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<EchoConnection>(std::move(s))->start();
    if (ec != net::error::operation_aborted) accept_echo(acceptor);
  });
}

}  // namespace

void start_port_forward_session(net::io_context& io, std::shared_ptr<Transport> transport,
                                std::function<unsigned short(unsigned short)> target_port) {
  std::make_shared<PortForwardSession>(io, std::move(target_port))->start(std::move(transport));
}

unsigned short start_echo_server(net::io_context& io) {
  auto acceptor = std::make_shared<tcp::acceptor>(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  auto port = acceptor->local_endpoint().port();
  accept_echo(acceptor);
  return port;
}

}  // namespace sluice::standin
