// One TLS connection of the stand-in: reads requests, writes plain or chunked replies,
// and hands the socket over on an upgrade (WebSocket or raw SPDY).
#pragma once
#include <utility>  // before Boost.Asio: TOOLCHAIN.md pitfall 1
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport.h"

namespace sluice::standin {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct HttpRequest {
  std::string method;
  std::string target;
  std::string path;  // percent-decoded
  std::multimap<std::string, std::string> query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in arrival order
  std::string body;
  std::string remote;

  std::string param(const std::string& name, const std::string& dflt = "") const;
  bool has_param(const std::string& name) const { return query.count(name) > 0; }
  // A boolean query value as kube-apiserver reads it (Convert_Slice_string_To_bool): absent is
  // false; "0" and "false" in any case are false; anything else ("True", "1", "") is true.
  bool param_bool(const std::string& name) const;
  std::string header(const std::string& lower_name) const;
  std::vector<std::string> header_values(const std::string& lower_name) const;
};

std::string percent_decode(std::string_view s, bool plus_as_space);

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  using Handler = std::function<void(const std::shared_ptr<HttpSession>&, HttpRequest&)>;

  HttpSession(net::ip::tcp::socket socket, net::ssl::context& ctx, Handler handler);
  void start();

  void respond(int status, const std::string& content_type, std::string body,
               const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
  void respond_json(int status, const nlohmann::json& body);

  // Chunked streaming (watch, logs -f). The connection closes when the stream ends.
  void start_stream(int status, const std::string& content_type);
  void write_chunk(std::string data);
  void end_stream();
  bool streaming_open() const { return streaming_ && !closed_; }
  void on_disconnect(std::function<void()> fn) { disconnect_handlers_.push_back(std::move(fn)); }

  // Upgrades: the session gives up its socket to the returned transport.
  void accept_websocket(const std::string& subprotocol, std::function<void(std::shared_ptr<Transport>)> ready);
  void accept_raw_upgrade(const std::vector<std::pair<std::string, std::string>>& headers,
                          std::function<void(std::shared_ptr<Transport>)> ready);

 private:
  void do_read();
  void on_read(beast::error_code ec, std::size_t);
  void write_next_chunk();
  void watch_for_disconnect();
  void mark_closed();

  TlsStream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Handler handler_;
  std::string remote_;
  bool streaming_ = false;
  bool closed_ = false;
  bool writing_ = false;
  bool end_requested_ = false;
  std::deque<std::string> chunks_;
  std::size_t queued_bytes_ = 0;
  std::vector<std::function<void()>> disconnect_handlers_;
  std::array<char, 512> probe_{};
  http::request<http::string_body> upgrade_request_;
};

}  // namespace sluice::standin
