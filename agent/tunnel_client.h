// The agent's tunnel: a Control call to the gateway plus a few idle Exchange calls kept open in
// advance; reconnects with exponential backoff and jitter; drains on SIGTERM.
#pragma once
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <map>
#include <string>

#include "agent/apiserver_client.h"
#include "agent/token_file.h"

namespace sluice::agent {

struct TunnelOptions {
  std::string gateway;     // host:port of the gateway's agent listener
  std::string cluster;
  std::string token_file;  // the agent token; re-read at every connection attempt
  std::string gateway_ca_pem;
  std::string agent_version;
  std::string agent_id;
  int max_backoff_seconds = 30;
};

class ControlCall;
class ExchangeCall;

class TunnelClient {
 public:
  TunnelClient(net::io_context& io, ConnectionPool& pool, TunnelOptions options);
  // Cancels the calls still open and waits until gRPC has ended every one of them (OnDone):
  // no reactor outlives the client it reports to.
  ~TunnelClient();
  void start();
  // Stops taking exchanges, lets in-flight ones finish up to `grace`, then calls `done`.
  void drain(std::chrono::seconds grace, std::function<void()> done);
  // Whether the gateway has welcomed this agent on a live control call (the readiness probe).
  bool connected() {
    std::lock_guard lock(mu_);
    return control_ && !tunnel_id_.empty() && !draining_;
  }
  // Control and Exchange calls gRPC has not ended yet.
  unsigned live_calls() const;

 private:
  friend class ControlCall;
  friend class ExchangeCall;
  void connect();
  void schedule_reconnect();
  void on_welcome(const std::string& tunnel_id, unsigned idle_target);
  void open_exchanges(unsigned n);
  void on_exchange_taken();
  void on_exchange_released();
  void on_exchange_done(bool taken);
  void on_control_done(const grpc::Status& status);
  void heartbeat();
  void check_drained();
  std::string token() const;
  // A reactor's life as the destructor sees it: started (with how to cancel it), ending (in
  // OnDone, before it deletes itself: no longer cancellable), ended (its very last step).
  void call_started(const void* call, std::function<void()> cancel);
  void call_ending(const void* call);
  void call_ended();

  net::io_context& io_;
  ConnectionPool& pool_;
  TunnelOptions options_;
  TokenFile agent_token_;  // read again when the file changes
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Tunnel::Stub> stub_;
  std::mutex mu_;
  ControlCall* control_ = nullptr;
  // Every reactor still open, so the destructor can cancel them and wait for their OnDone.
  // Recursive: a cancellation may end a call on this thread.
  mutable std::recursive_mutex calls_mu_;
  std::condition_variable_any calls_ended_;
  std::map<const void*, std::function<void()>> open_calls_;
  unsigned live_calls_ = 0;
  std::string tunnel_id_;
  unsigned idle_target_ = 4, idle_ = 0, active_ = 0;
  bool draining_ = false, stopped_ = false;
  int attempt_ = 0;
  net::steady_timer reconnect_timer_, heartbeat_timer_, drain_timer_;
  std::function<void()> drained_;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace sluice::agent
