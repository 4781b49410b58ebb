#include "http_session.h"

#include <cctype>
#include <chrono>

#include "transport_impl.h"

namespace sluice::standin {
namespace {
constexpr std::size_t kHeaderLimit = 1 << 20;
constexpr std::size_t kBodyLimit = 64 << 20;
constexpr std::size_t kMaxQueuedStreamBytes = 64 << 20;  // a stalled watcher is dropped, as the API server does
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(120);

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void parse_query(std::string_view q, std::multimap<std::string, std::string>& out) {
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string k = percent_decode(part.substr(0, eq), true);
    std::string v = eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1), true);
    out.emplace(std::move(k), std::move(v));
  }
}
}  // namespace

std::string percent_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_as_space && s[i] == '+') ? ' ' : s[i];
  }
  return out;
}

std::string HttpRequest::param(const std::string& name, const std::string& dflt) const {
  auto it = query.find(name);
  return it == query.end() ? dflt : it->second;
}

bool HttpRequest::param_bool(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return false;
  std::string v = it->second;
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v != "0" && v != "false";
}

std::string HttpRequest::header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return "";
}

std::vector<std::string> HttpRequest::header_values(const std::string& lower_name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers)
    if (k == lower_name) out.push_back(v);
  return out;
}

HttpSession::HttpSession(net::ip::tcp::socket socket, net::ssl::context& ctx, Handler handler)
    : stream_(std::move(socket), ctx), handler_(std::move(handler)) {
  beast::error_code ec;
  auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
  if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
}

void HttpSession::start() {
  beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
  stream_.async_handshake(net::ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
    if (ec) return;
    self->do_read();
  });
}

void HttpSession::do_read() {
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(kBodyLimit);
  beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
}

void HttpSession::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::body_limit) {
    return respond_json(413, {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                              {"message", "request body too large"}, {"reason", "RequestEntityTooLarge"}, {"code", 413}});
  }
  if (ec) return;
  beast::get_lowest_layer(stream_).expires_never();
  auto& msg = parser_->get();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  auto qpos = req.target.find('?');
  req.path = percent_decode(std::string_view(req.target).substr(0, qpos), false);
  if (qpos != std::string::npos) parse_query(std::string_view(req.target).substr(qpos + 1), req.query);
  for (const auto& f : msg) req.headers.emplace_back(lower(std::string(f.name_string())), std::string(f.value()));
  req.body = std::move(msg.body());
  req.remote = remote_;
  if (beast::websocket::is_upgrade(msg) || msg.find(http::field::upgrade) != msg.end()) {
    upgrade_request_ = parser_->release();
  }
  handler_(shared_from_this(), req);
}

void HttpSession::respond(int status, const std::string& content_type, std::string body,
                          const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
  res->set(http::field::content_type, content_type);
  res->set("Audit-Id", "standin");
  res->set(http::field::cache_control, "no-cache, private");
  for (const auto& [k, v] : extra_headers) {
    // A repeated name (two Warning headers) is two fields; a default above is replaced.
    if (beast::iequals(k, "Content-Type") || beast::iequals(k, "Cache-Control") || beast::iequals(k, "Audit-Id")) res->set(k, v);
    else res->insert(k, v);
  }
  res->body() = std::move(body);
  res->keep_alive(true);
  res->prepare_payload();
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
    if (ec) return;
    self->do_read();
  });
}

void HttpSession::respond_json(int status, const nlohmann::json& body) {
  respond(status, "application/json", body.dump());
}

void HttpSession::start_stream(int status, const std::string& content_type) {
  streaming_ = true;
  http::response<http::empty_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-cache, private");
  res.set(http::field::connection, "close");
  res.chunked(true);
  std::ostringstream head;
  head << res.base();
  chunks_.push_back(head.str());  // the header goes out first, as raw bytes
  queued_bytes_ += chunks_.back().size();
  write_next_chunk();
  watch_for_disconnect();
}

void HttpSession::write_chunk(std::string data) {
  if (closed_ || data.empty()) return;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string framed = size + std::move(data) + "\r\n";
  queued_bytes_ += framed.size();
  if (queued_bytes_ > kMaxQueuedStreamBytes) {
    mark_closed();
    beast::get_lowest_layer(stream_).close();
    return;
  }
  chunks_.push_back(std::move(framed));
  if (!writing_) write_next_chunk();
}

void HttpSession::end_stream() {
  if (closed_ || end_requested_) return;
  end_requested_ = true;
  chunks_.push_back("0\r\n\r\n");
  if (!writing_) write_next_chunk();
}

void HttpSession::write_next_chunk() {
  if (chunks_.empty()) {
    writing_ = false;
    if (end_requested_) {
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
        beast::get_lowest_layer(self->stream_).close();
      });
    }
    return;
  }
  writing_ = true;
  net::async_write(stream_, net::buffer(chunks_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->queued_bytes_ -= std::min(self->queued_bytes_, n);
    self->chunks_.pop_front();
    if (ec) {
      self->writing_ = false;
      return self->mark_closed();
    }
    self->write_next_chunk();
  });
}

void HttpSession::watch_for_disconnect() {
  stream_.async_read_some(net::buffer(probe_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->mark_closed();
    self->watch_for_disconnect();  // a streaming client has nothing to say; ignore stray bytes
  });
}

void HttpSession::mark_closed() {
  if (closed_) return;
  closed_ = true;
  auto handlers = std::move(disconnect_handlers_);
  for (auto& h : handlers) h();
}

void HttpSession::accept_websocket(const std::string& subprotocol,
                                   std::function<void(std::shared_ptr<Transport>)> ready) {
  make_websocket_transport(std::move(stream_), std::move(upgrade_request_), subprotocol, std::move(ready));
}

void HttpSession::accept_raw_upgrade(const std::vector<std::pair<std::string, std::string>>& headers,
                                     std::function<void(std::shared_ptr<Transport>)> ready) {
  auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols, 11);
  for (const auto& [k, v] : headers) res->set(k, v);
  http::async_write(stream_, *res, [self = shared_from_this(), res, ready = std::move(ready)](beast::error_code ec, std::size_t) {
    if (ec) return;
    std::string leftover = beast::buffers_to_string(self->buffer_.data());
    self->buffer_.consume(self->buffer_.size());
    ready(make_raw_transport(std::move(self->stream_), std::move(leftover)));
  });
}

}  // namespace sluice::standin
