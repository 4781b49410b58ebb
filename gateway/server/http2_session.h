// One client connection over HTTP/2 and TLS (ALPN "h2"), framed by nghttp2. Each stream is one
// request: its headers and body are read into a RequestContext and run through a new stage chain,
// exactly as HttpsSession does for HTTP/1.1, and the stream is that chain's Downstream. A
// controller's watches and requests share the one TLS connection.
//
// Flow control is per stream: a response piece is handed to nghttp2 only as the client's window for
// that stream allows, and the chain's `written` runs only then, so a stalled watch holds back its
// own exchange and never the connection's other streams. Upgrades (exec, attach, port-forward) are
// not offered over h2, as client-go keeps them on HTTP/1.1. Limits: concurrent streams and the
// header list (advertised in SETTINGS and enforced), the body size, a request that is still
// arriving after 6 header_timeouts (408), an idle connection's lifetime,
// and rapid reset (CVE-2023-44487): a client that resets more than limits.http2_max_early_resets
// streams before they were answered within 10 s gets GOAWAY(ENHANCE_YOUR_CALM) and is closed.
//
// A GOAWAY is followed by a lingering close: the write side is shut, and what the client still sends
// is read and dropped for up to kLingerTime. Closing with its frames unread would make the kernel
// answer with a TCP reset, and a reset discards the client's unread bytes, GOAWAY among them.
#pragma once
#include <nghttp2/nghttp2.h>

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/tls_socket_stream.h"
#include "gateway/server/https_session.h"

namespace sluice::gateway {

class Http2Session : public std::enable_shared_from_this<Http2Session> {
 public:
  // `stream` has completed its TLS handshake with ALPN h2.
  Http2Session(std::unique_ptr<common::TlsSocketStream> stream, ProxyContext& ctx, const StageFactory& stages);
  ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;
  void start();

 private:
  class Stream;
  friend class Stream;
  struct Callbacks;
  friend struct Callbacks;

  void read();
  void flush();  // hands nghttp2's pending frames to the socket, one write at a time
  void close();
  void linger();  // nghttp2 is done and its last frames are written: drain the client, then close()
  void end_streams();
  void arm_idle_timer();
  void sweep_slow_requests();  // every header_timeout: streams whose request is still arriving
  void dispatch(const std::shared_ptr<Stream>& s);
  void early_reset();
  void run_later(std::function<void()> f);  // after the nghttp2 call in progress returns

  std::unique_ptr<common::TlsSocketStream> tls_;
  ProxyContext& ctx_;
  const StageFactory& stages_;
  nghttp2_session* h2_ = nullptr;
  std::string remote_, server_name_, sni_cluster_, connection_id_;
  std::map<std::int32_t, std::shared_ptr<Stream>> streams_;
  std::vector<char> read_buf_;
  std::string write_buf_;
  bool writing_ = false, closed_ = false, receiving_ = false, reading_ = false, lingering_ = false;
  std::vector<std::function<void()>> later_;  // `written` callbacks due once the current mem_send returns
  std::deque<std::chrono::steady_clock::time_point> early_resets_;
  boost::asio::steady_timer idle_timer_, sweep_timer_;
};

}  // namespace sluice::gateway
