// Runs one request through its stages (stage.h) and ends it exactly once, at one completion point
// where every answer is counted: the cluster's, and every refusal of the gateway's own.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/pipeline/stage.h"

namespace sluice::gateway::pipeline {

// A response head as the client gets it (server/response_rewrite.h built it from the cluster's).
struct ResponseHead {
  int status = 0;
  HeaderList headers;       // end-to-end fields only; Connection and Upgrade for a 101
  bool has_length = false;  // a Content-Length among them: the body goes as it is, else it streams
  bool bodiless = false;    // HEAD, 1xx, 204, 304
};

// The side of the client: the front that read the request (an HTTP/1.1 connection or an h2 stream).
class Downstream {
 public:
  using Written = std::function<void(bool ok)>;  // ok false: the client is gone (chain.client_gone() follows)
  virtual ~Downstream() = default;
  // The response, in order: a head with the body so far, then data; `end` after the last piece.
  // After a 101 the data are the upgraded stream's bytes. `written` (may be empty) runs once the
  // client took them, so the sender reads its next piece only then.
  virtual void send_head(ResponseHead head, std::string body, bool end, Written written) = 0;
  virtual void send_data(std::string data, bool end, Written written) = 0;
  // After a 101: the client's next bytes of the upgraded stream; nullopt when it closed.
  virtual void read_upgraded(std::function<void(std::optional<std::string>)> got) = 0;
  // The response is over: `reusable` when it ended cleanly and the connection may serve another.
  virtual void finish_response(bool reusable) = 0;
  // An answer of the gateway's own; the request has already completed when this runs.
  virtual void local_reply(int code, const std::string& content_type, std::string body, const HeaderList& headers) = 0;
  // A stage waits long (reviewers): notice the client leaving, and call chain.client_gone() then.
  virtual void watch_client_while_waiting() = 0;
  // The wait is over: stop that watch and call `resume` once no read of it is in flight.
  virtual void stop_watching(std::function<void()> resume) = 0;
};

// client-go retries a 503 that carries Retry-After (up to 10 times), so kubectl rides out an agent
// reconnecting or a slow audit commit; 2 s keeps that wait short without hammering the gateway.
inline constexpr const char* kRetryAfterSeconds = "2";

// Counts each request once, when it completes (the gateway's metrics).
using RequestCounter = std::function<void(const RequestContext&, int code, double seconds)>;

class Chain : public std::enable_shared_from_this<Chain> {
 public:
  Chain(boost::asio::any_io_executor strand, std::vector<std::unique_ptr<Stage>> stages,
        std::shared_ptr<Downstream> downstream, RequestCounter count, RequestContext ctx);
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  void start();
  // The stage that returned Stop is done waiting: the next stage runs.
  void continue_request();
  // Ends the request with a Kubernetes Status of the gateway's own.
  void send_local_reply(int code, const std::string& message, const std::string& reason,
                        HeaderList headers = {}, nlohmann::json details = nullptr);
  // Ends the request with an answer of the gateway's own in any content type (/healthz, the REST APIs).
  void send_reply(int code, const std::string& content_type, std::string body, HeaderList headers = {});
  std::shared_ptr<Downstream> downstream_ptr() const { return downstream_; }
  // The stage that holds the request waits long: the front watches for the client leaving.
  void watch_client() {
    if (downstream_) downstream_->watch_client_while_waiting();
  }
  // The request ended with `code` (the last stage's answer went out, or the exchange broke off).
  void complete(int code);
  // The client went away: the stage that holds the request cancels its wait, then it completes (499).
  void client_gone();

  // The way back (stage.h), called by the stage that holds the request (the terminal one).
  Passed response_head(ResponseStart& head);
  Passed response_data(std::string& data, bool end);
  void request_data(const std::string& data);
  bool response_holding() const;
  void response_idle(std::string& out);

  bool completed() const { return completed_; }
  RequestContext& context() { return ctx_; }
  boost::asio::any_io_executor executor() const { return strand_; }
  // A completion handler for a stage's wait: runs `f` on the connection's strand, with the chain
  // kept alive, and not at all once the request has completed (a late answer is dropped).
  template <class F>
  auto on_strand(F&& f) {
    return [self = shared_from_this(), f = std::forward<F>(f)](auto&&... args) mutable {
      auto strand = self->strand_;
      boost::asio::post(strand, [self = std::move(self), f = std::move(f),
                                 ... a = std::forward<decltype(args)>(args)]() mutable {
        if (self->completed_) return;
        self->guarded("a completion handler", [&] { f(std::move(a)...); });
      });
    };
  }

 private:
  void run_from_next();
  std::size_t holder_index() const { return entered_ == 0 ? 0 : entered_ - 1; }
  // An exception from a stage ends its request with a 500 Status and a log line, never the process.
  template <class F>
  void guarded(const char* where, F&& f);
  void fail(const char* where, const char* what);

  boost::asio::any_io_executor strand_;
  std::vector<std::unique_ptr<Stage>> stages_;
  std::shared_ptr<Downstream> downstream_;  // released at completion: no cycle with the front
  RequestCounter count_;
  RequestContext ctx_;
  std::size_t next_ = 0;      // the next stage to run; the one before it holds the request
  std::size_t entered_ = 0;   // how many stages on_request ran for (on_complete runs for these)
  bool waiting_ = false;      // a stage returned Stop and has not resumed the chain
  bool in_stage_ = false;     // inside a stage's on_request
  bool resume_early_ = false; // continue_request() came before that on_request returned Stop
  bool completed_ = false;
};

template <class F>
void Chain::guarded(const char* where, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    fail(where, e.what());
  } catch (...) {
    fail(where, "an unknown exception");
  }
}

}  // namespace sluice::gateway::pipeline
