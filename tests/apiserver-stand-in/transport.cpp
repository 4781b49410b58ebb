#include <deque>

#include "transport_impl.h"

namespace sluice::standin {
namespace {
namespace websocket = beast::websocket;

class WebSocketTransport : public Transport, public std::enable_shared_from_this<WebSocketTransport> {
 public:
  explicit WebSocketTransport(TlsStream stream) : ws_(std::move(stream)) {}

  void accept(http::request<http::string_body> req, const std::string& subprotocol,
              std::function<void(std::shared_ptr<Transport>)> ready) {
    ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
      if (!subprotocol.empty()) res.set(http::field::sec_websocket_protocol, subprotocol);
    }));
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.binary(true);
    ws_.read_message_max(16 * 1024 * 1024);
    req_ = std::move(req);
    ws_.async_accept(req_, [self = shared_from_this(), ready = std::move(ready)](beast::error_code ec) {
      if (ec) return;
      ready(self);
    });
  }

  void start(std::function<void(std::string)> on_data, std::function<void()> on_close) override {
    on_data_ = std::move(on_data);
    on_close_ = std::move(on_close);
    read();
  }

  void send(std::string data) override {
    if (closed_) return;
    out_.push_back(std::move(data));
    if (!writing_) write_next();
  }

  void close() override {
    close_requested_ = true;
    if (!writing_ && out_.empty()) do_close();
  }

  bool is_websocket() const override { return true; }

 private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->finish();
      std::string msg = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      self->on_data_(std::move(msg));
      self->read();
    });
  }

  void write_next() {
    if (out_.empty()) {
      writing_ = false;
      if (close_requested_) do_close();
      return;
    }
    writing_ = true;
    ws_.async_write(net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->out_.pop_front();
      if (ec) {
        self->writing_ = false;
        return self->finish();
      }
      self->write_next();
    });
  }

  void do_close() {
    if (closed_ || close_sent_) return;
    close_sent_ = true;
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
  }

  void finish() {
    if (closed_) return;
    closed_ = true;
    if (on_close_) on_close_();
  }

  websocket::stream<TlsStream> ws_;
  http::request<http::string_body> req_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  bool writing_ = false, closed_ = false, close_requested_ = false, close_sent_ = false;
  std::function<void(std::string)> on_data_;
  std::function<void()> on_close_;
};

class RawTransport : public Transport, public std::enable_shared_from_this<RawTransport> {
 public:
  RawTransport(TlsStream stream, std::string already_read) : stream_(std::move(stream)), pending_(std::move(already_read)) {}

  void start(std::function<void(std::string)> on_data, std::function<void()> on_close) override {
    on_data_ = std::move(on_data);
    on_close_ = std::move(on_close);
    beast::get_lowest_layer(stream_).expires_never();
    if (!pending_.empty()) on_data_(std::exchange(pending_, {}));
    read();
  }

  void send(std::string data) override {
    if (closed_) return;
    out_.push_back(std::move(data));
    if (!writing_) write_next();
  }

  void close() override {
    close_requested_ = true;
    if (!writing_ && out_.empty()) do_close();
  }

  bool is_websocket() const override { return false; }

 private:
  void read() {
    stream_.async_read_some(net::buffer(buf_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->finish();
      self->on_data_(std::string(self->buf_.data(), n));
      self->read();
    });
  }

  void write_next() {
    if (out_.empty()) {
      writing_ = false;
      if (close_requested_) do_close();
      return;
    }
    writing_ = true;
    net::async_write(stream_, net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->out_.pop_front();
      if (ec) {
        self->writing_ = false;
        return self->finish();
      }
      self->write_next();
    });
  }

  void do_close() {
    if (close_sent_) return;
    close_sent_ = true;
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().close(ignored);
    });
  }

  void finish() {
    if (closed_) return;
    closed_ = true;
    if (on_close_) on_close_();
  }

  TlsStream stream_;
  std::string pending_;
  std::array<char, 16384> buf_{};
  std::deque<std::string> out_;
  bool writing_ = false, closed_ = false, close_requested_ = false, close_sent_ = false;
  std::function<void(std::string)> on_data_;
  std::function<void()> on_close_;
};

}  // namespace

std::shared_ptr<Transport> make_websocket_transport(TlsStream stream, http::request<http::string_body> req,
                                                    const std::string& subprotocol,
                                                    std::function<void(std::shared_ptr<Transport>)> ready) {
  auto t = std::make_shared<WebSocketTransport>(std::move(stream));
  t->accept(std::move(req), subprotocol, std::move(ready));
  return t;
}

std::shared_ptr<Transport> make_raw_transport(TlsStream stream, std::string already_read) {
  return std::make_shared<RawTransport>(std::move(stream), std::move(already_read));
}

}  // namespace sluice::standin
