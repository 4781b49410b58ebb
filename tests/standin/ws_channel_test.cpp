// pods/exec over both WebSocket channel protocols, from a client of our own: kubectl only ever
// picks v5, so v4 (no stdin half-close) is proven here.
#include <utility>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "common/tls_certs.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {
std::string dir() {
  const char* d = std::getenv("STANDIN_DIR");
  REQUIRE_MESSAGE(d, "STANDIN_DIR is not set: run through ctest (fixture 'standin')");
  return d;
}
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

struct ExecResult {
  std::string protocol, out, err, status;
};

// Runs `query` against pod `pod` and collects the channels until the server closes.
ExecResult exec(const std::string& path_and_query, const std::string& offered, const std::string& stdin_data,
                bool half_close) {
  const std::string port = trim(sluice::common::read_file(dir() + "/port"));
  const std::string token = trim(sluice::common::read_file(dir() + "/token"));
  net::io_context io;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.add_certificate_authority(net::buffer(sluice::common::read_file(dir() + "/ca.crt")));
  ctx.set_verify_mode(net::ssl::verify_peer);
  websocket::stream<beast::ssl_stream<tcp::socket>> ws(io, ctx);
  tcp::resolver resolver(io);
  net::connect(beast::get_lowest_layer(ws), resolver.resolve("127.0.0.1", port));
  ws.next_layer().handshake(net::ssl::stream_base::client);
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    req.set(beast::http::field::authorization, "Bearer " + token);
    req.set(beast::http::field::sec_websocket_protocol, offered);
  }));
  websocket::response_type res;
  ws.handshake(res, "127.0.0.1:" + port, path_and_query);
  ExecResult r;
  r.protocol = std::string(res[beast::http::field::sec_websocket_protocol]);
  ws.binary(true);
  if (!stdin_data.empty()) ws.write(net::buffer(std::string(1, '\0') + stdin_data));
  if (half_close) ws.write(net::buffer(std::string("\xff\x00", 2)));
  for (;;) {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
    if (ec) break;
    std::string msg = beast::buffers_to_string(buf.data());
    if (msg.empty()) continue;
    if (msg[0] == 1) r.out += msg.substr(1);
    if (msg[0] == 2) r.err += msg.substr(1);
    if (msg[0] == 3) r.status += msg.substr(1);
  }
  return r;
}

void ensure_pod() {
  // The pod is created through the API with the token, like any client would; idempotent, and
  // safe when the cases run in parallel (the loser of a create race finds the winner's pod).
  const std::string k = "kubectl --kubeconfig " + dir() + "/kubeconfig -n default ";
  std::string cmd = k + "get pod ws-box >/dev/null 2>&1 || " + k + "run ws-box --image=busybox -- sleep 3600 >/dev/null 2>&1 || " +
                    k + "get pod ws-box >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
}
}  // namespace

TEST_CASE("exec over v4.channel.k8s.io: output channels and the exit status") {
  ensure_pod();
  auto r = exec("/api/v1/namespaces/default/pods/ws-box/exec?command=sh&command=-c&command=echo%20out;echo%20err%3E%262;exit%205"
                "&stdout=true&stderr=true",
                "v4.channel.k8s.io", "", false);
  CHECK(r.protocol == "v4.channel.k8s.io");
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK(r.status.find("\"reason\":\"NonZeroExitCode\"") != std::string::npos);
  CHECK(r.status.find("\"message\":\"5\"") != std::string::npos);
}

TEST_CASE("exec over v5.channel.k8s.io: stdin ends with the close signal") {
  ensure_pod();
  auto r = exec("/api/v1/namespaces/default/pods/ws-box/exec?command=wc&command=-c&stdin=true&stdout=true&stderr=true",
                "v5.channel.k8s.io, v4.channel.k8s.io", "12345", true);
  CHECK(r.protocol == "v5.channel.k8s.io");
  CHECK(trim(r.out) == "5");
  CHECK(r.status == R"({"metadata":{},"status":"Success"})");
}

TEST_CASE("an offer of no supported channel protocol is refused before the upgrade") {
  ensure_pod();
  CHECK_THROWS(exec("/api/v1/namespaces/default/pods/ws-box/exec?command=true&stdout=true", "base64.channel.k8s.io", "", false));
}
