// The tunnel's admission in process, over real gRPC: a directory that answers later, from another
// thread (as store::Database does), admits or refuses the call then; a refused or unchecked token
// never reaches the registry, and a database that is down is UNAVAILABLE, not UNAUTHENTICATED.
#include <doctest/doctest.h>

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "gateway/tunnel/tunnel_service.h"

using namespace sluice::gateway::tunnel;
using sluice::common::Error;
using sluice::common::Result;

namespace {

// Answers each check from its own thread once the test releases it, counting the checks.
class LateDirectory : public AgentDirectory {
 public:
  enum class Answer { yes, no, down };
  Answer answer = Answer::yes;
  std::atomic<int> checks{0};

  void verify_agent_token(const std::string& cluster, const std::string& token,
                          std::function<void(Result<bool>)> done) override {
    ++checks;
    const Answer a = answer;
    std::thread([this, cluster, token, a, done = std::move(done)] {
      {
        std::unique_lock lock(mu_);
        released_.wait(lock, [this] { return open_; });
      }
      if (a == Answer::down) return done(Error{503, "cannot reach the database"});
      done(a == Answer::yes && cluster == "c1" && token == "good-token");
    }).detach();
  }
  void record_check_in(const std::string&, const std::string&) override {}

  void release() {
    std::lock_guard lock(mu_);
    open_ = true;
    released_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable released_;
  bool open_ = false;
};

struct Server {
  TunnelRegistry registry;
  LateDirectory directory;
  TunnelService service{registry, directory, 2};
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  Server() {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service);
    server = b.BuildAndStart();
  }
  ~Server() { server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5)); }
  std::unique_ptr<pb::Tunnel::Stub> stub() {
    return pb::Tunnel::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
};

struct ControlAttempt {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<pb::AgentMessage, pb::GatewayMessage>> stream;
  ControlAttempt(pb::Tunnel::Stub& stub, const std::string& cluster, const std::string& token) {
    if (!cluster.empty()) ctx.AddMetadata("x-sluice-cluster", cluster);
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    stream = stub.Control(&ctx);
    pb::AgentMessage hello;
    hello.mutable_hello()->set_cluster(cluster);
    hello.mutable_hello()->set_agent_version("test");
    hello.mutable_hello()->set_agent_id("a1");
    stream->Write(hello);
  }
};

}  // namespace

TEST_CASE("tunnel admission: a token the directory accepts later admits the call, and the next call skips the check") {
  Server s;
  auto stub = s.stub();
  ControlAttempt first(*stub, "c1", "good-token");
  // The check is pending on another thread: no tunnel yet, and the gRPC threads are free (a
  // second call with a wrong name is refused meanwhile without waiting for the first).
  ControlAttempt nameless(*stub, "", "good-token");
  pb::GatewayMessage m;
  CHECK_FALSE(nameless.stream->Read(&m));
  CHECK(nameless.stream->Finish().error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_FALSE(s.registry.has_tunnel("c1"));
  s.directory.release();
  REQUIRE(first.stream->Read(&m));
  CHECK(m.has_welcome());
  CHECK(s.registry.has_tunnel("c1"));
  const int checks = s.directory.checks;
  CHECK(checks == 1);  // the nameless call never reached the directory

  ControlAttempt second(*stub, "c1", "good-token");
  REQUIRE(second.stream->Read(&m));
  CHECK(m.has_welcome());
  CHECK(s.directory.checks == checks);  // accepted within 30 s: answered from the cache
  first.ctx.TryCancel();
  second.ctx.TryCancel();
  first.stream->Finish();
  second.stream->Finish();
}

TEST_CASE("tunnel admission: a wrong token is UNAUTHENTICATED and opens no tunnel") {
  Server s;
  auto stub = s.stub();
  s.directory.release();
  ControlAttempt wrong(*stub, "c1", "bad-token");
  pb::GatewayMessage m;
  CHECK_FALSE(wrong.stream->Read(&m));
  const auto status = wrong.stream->Finish();
  CHECK(status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(status.error_message() == "unknown cluster or wrong agent token");
  CHECK_FALSE(s.registry.has_tunnel("c1"));
}

TEST_CASE("tunnel admission: a directory that cannot answer is UNAVAILABLE (the agent retries), never an admission") {
  Server s;
  auto stub = s.stub();
  s.directory.answer = LateDirectory::Answer::down;
  s.directory.release();
  ControlAttempt attempt(*stub, "c1", "good-token");
  pb::GatewayMessage m;
  CHECK_FALSE(attempt.stream->Read(&m));
  CHECK(attempt.stream->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK_FALSE(s.registry.has_tunnel("c1"));
  // and the failure was not cached as an acceptance
  s.directory.answer = LateDirectory::Answer::no;
  ControlAttempt again(*stub, "c1", "good-token");
  CHECK_FALSE(again.stream->Read(&m));
  CHECK(again.stream->Finish().error_code() == grpc::StatusCode::UNAUTHENTICATED);
}
