#include "websocket_port_forward.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <deque>

namespace sluice::standin {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class WebSocketPortForward : public std::enable_shared_from_this<WebSocketPortForward> {
 public:
  WebSocketPortForward(net::io_context& io, std::shared_ptr<Transport> transport)
      : io_(io), transport_(std::move(transport)) {}

  void start(const std::vector<unsigned short>& ports, const std::function<unsigned short(unsigned short)>& target) {
    for (std::size_t i = 0; i < ports.size(); ++i) {
      auto& p = ports_.emplace_back();
      p.pod_port = ports[i];
      p.socket = std::make_shared<tcp::socket>(io_);
      const std::string number{static_cast<char>(ports[i] & 0xff), static_cast<char>(ports[i] >> 8)};
      transport_->send(std::string(1, static_cast<char>(2 * i)) + number);      // data channel
      transport_->send(std::string(1, static_cast<char>(2 * i + 1)) + number);  // error channel
      const unsigned short local = target(ports[i]);
      p.socket->async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), local),
                              [self = shared_from_this(), i](boost::system::error_code ec) {
                                if (ec) return self->fail(i, "connection refused");
                                self->ports_[i].connected = true;
                                self->flush(i);
                                self->read(i);
                              });
    }
    transport_->start([self = shared_from_this()](std::string m) { self->on_message(std::move(m)); },
                      [self = shared_from_this()]() { self->shutdown(); });
  }

 private:
  struct Port {
    unsigned short pod_port = 0;
    std::shared_ptr<tcp::socket> socket;
    std::deque<std::string> pending;
    bool connected = false, writing = false, done = false;
    std::array<char, 32768> buf{};
  };

  void on_message(std::string m) {
    if (m.empty()) return;
    const auto channel = static_cast<unsigned char>(m[0]);
    const std::size_t i = channel / 2;
    if (i >= ports_.size() || channel % 2 == 1) return;  // the client writes only data channels
    ports_[i].pending.push_back(m.substr(1));
    flush(i);
  }

  void flush(std::size_t i) {
    auto& p = ports_[i];
    if (!p.connected || p.writing || p.pending.empty() || p.done) return;
    p.writing = true;
    auto data = std::make_shared<std::string>(std::move(p.pending.front()));
    p.pending.pop_front();
    net::async_write(*p.socket, net::buffer(*data), [self = shared_from_this(), i, data](boost::system::error_code ec, std::size_t) {
      self->ports_[i].writing = false;
      if (ec) return self->fail(i, ec.message());
      self->flush(i);
    });
  }

  void read(std::size_t i) {
    auto& p = ports_[i];
    p.socket->async_read_some(net::buffer(p.buf), [self = shared_from_this(), i](boost::system::error_code ec, std::size_t n) {
      auto& port = self->ports_[i];
      if (n > 0) self->transport_->send(std::string(1, static_cast<char>(2 * i)) + std::string(port.buf.data(), n));
      if (ec) return self->port_done(i);  // the pod closed the connection
      self->read(i);
    });
  }

  void fail(std::size_t i, const std::string& why) {
    transport_->send(std::string(1, static_cast<char>(2 * i + 1)) + "error forwarding port " +
                     std::to_string(ports_[i].pod_port) + " to pod: " + why);
    port_done(i);
  }

  // kubelet ends the WebSocket when a port's connection ends: one connection per forwarded port.
  void port_done(std::size_t i) {
    if (ports_[i].done) return;
    ports_[i].done = true;
    boost::system::error_code ignored;
    ports_[i].socket->close(ignored);
    transport_->close();
  }

  void shutdown() {
    for (std::size_t i = 0; i < ports_.size(); ++i) {
      ports_[i].done = true;
      boost::system::error_code ignored;
      ports_[i].socket->close(ignored);
    }
  }

  net::io_context& io_;
  std::shared_ptr<Transport> transport_;
  std::deque<Port> ports_;  // stable addresses: handlers hold indexes
};

}  // namespace

void start_websocket_port_forward(net::io_context& io, std::shared_ptr<Transport> transport,
                                  std::vector<unsigned short> ports,
                                  std::function<unsigned short(unsigned short)> target_port) {
  auto session = std::make_shared<WebSocketPortForward>(io, std::move(transport));
  session->start(ports, target_port);
}

}  // namespace sluice::standin
