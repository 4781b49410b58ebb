// The request chain with fake stages and a fake front: stop and resume, a client gone during a
// wait, a stage that throws, local replies at each stage, one completion and one count per request.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <string>
#include <utility>
#include <vector>

#include "gateway/pipeline/chain.h"

using namespace sluice::gateway::pipeline;
namespace net = boost::asio;

namespace {

struct Log {
  std::vector<std::string> events;
  std::string joined() const {
    std::string s;
    for (const auto& e : events) s += (s.empty() ? "" : " ") + e;
    return s;
  }
};

struct FakeFront : Downstream {
  Log& log;
  bool watching = false;
  int code = 0;
  std::string body;
  explicit FakeFront(Log& l) : log(l) {}
  void local_reply(int c, const std::string&, std::string b, const sluice::HeaderList&) override {
    code = c;
    body = std::move(b);
    log.events.push_back("reply:" + std::to_string(c));
  }
  void send_head(ResponseHead head, std::string, bool end, Written written) override {
    log.events.push_back("head:" + std::to_string(head.status) + (end ? ":end" : ""));
    if (written) written(true);
  }
  void send_data(std::string data, bool end, Written written) override {
    log.events.push_back("data:" + data + (end ? ":end" : ""));
    if (written) written(true);
  }
  void read_upgraded(std::function<void(std::optional<std::string>)> got) override { got(std::nullopt); }
  void finish_response(bool reusable) override { log.events.push_back(reusable ? "reusable" : "closed"); }
  void watch_client_while_waiting() override { watching = true; }
  void stop_watching(std::function<void()> resume) override {
    if (watching) log.events.push_back("unwatch");
    watching = false;
    resume();
  }
};

// What a fake stage does in on_request.
enum class Act { pass, stop, reply, throws, answer, resume_at_once };

struct FakeStage : Stage {
  std::string id;
  Act act;
  Log& log;
  std::function<void()>* resume = nullptr;  // set for `stop`: how the test ends the wait
  FakeStage(std::string i, Act a, Log& l) : id(std::move(i)), act(a), log(l) {}
  const char* name() const override { return id.c_str(); }
  Next on_request(RequestContext& ctx, Chain& chain) override {
    log.events.push_back(id);
    switch (act) {
      case Act::pass: return Next::Continue;
      case Act::reply: chain.send_local_reply(403, id + " refused", "Forbidden"); return Next::Stop;
      case Act::throws: throw std::runtime_error("boom");
      case Act::answer: ctx.info.verb = "create"; ctx.classified = true; chain.complete(200); return Next::Stop;
      case Act::resume_at_once: chain.continue_request(); return Next::Stop;
      case Act::stop:
        if (resume) *resume = chain.on_strand([&chain] { chain.continue_request(); });
        return Next::Stop;
    }
    return Next::Stop;
  }
  void on_complete(const RequestContext& ctx) override {
    log.events.push_back("done:" + id + ":" + std::to_string(ctx.status));
  }
  void on_destroy(RequestContext&) override { log.events.push_back("cancel:" + id); }
};

struct Rig {
  net::io_context io;
  Log log;
  std::shared_ptr<FakeFront> front = std::make_shared<FakeFront>(log);
  std::vector<std::pair<std::string, int>> counted;
  std::vector<std::unique_ptr<Stage>> stages;
  std::shared_ptr<Chain> chain;

  FakeStage& add(const std::string& id, Act act) {
    stages.push_back(std::make_unique<FakeStage>(id, act, log));
    return static_cast<FakeStage&>(*stages.back());
  }
  void start() {
    RequestContext ctx;
    ctx.method = "GET";
    chain = std::make_shared<Chain>(net::make_strand(io), std::move(stages), front,
                                    [this](const RequestContext& c, int code, double) {
                                      counted.emplace_back(c.metrics_verb(), code);
                                    },
                                    std::move(ctx));
    chain->start();
  }
};

}  // namespace

TEST_CASE("chain: stages run in order until one answers - each completes once, in reverse") {
  Rig r;
  r.add("a", Act::pass);
  r.add("b", Act::pass);
  r.add("up", Act::answer);
  r.add("never", Act::pass);
  r.start();
  CHECK(r.log.joined() == "a b up done:up:200 done:b:200 done:a:200");
  REQUIRE(r.counted.size() == 1);
  CHECK(r.counted[0] == std::make_pair(std::string("create"), 200));  // the classified verb
  r.chain->complete(502);  // a second end changes nothing
  CHECK(r.counted.size() == 1);
}

TEST_CASE("chain: a stage that stops holds the request until its wait ends on the strand") {
  Rig r;
  std::function<void()> resume;
  r.add("a", Act::pass);
  r.add("wait", Act::stop).resume = &resume;
  r.add("up", Act::answer);
  r.start();
  CHECK(r.log.joined() == "a wait");
  r.front->watching = true;  // as an approval stage asks for
  resume();
  CHECK(r.log.joined() == "a wait");  // posted, not run inline
  r.io.run();
  CHECK(r.log.joined() == "a wait unwatch up done:up:200 done:wait:200 done:a:200");
}

TEST_CASE("chain: a wait that ends inside on_request goes straight on") {
  Rig r;
  r.add("quick", Act::resume_at_once);
  r.add("up", Act::answer);
  r.start();
  CHECK(r.log.joined() == "quick up done:up:200 done:quick:200");
}

TEST_CASE("chain: the client gone during a wait cancels it, completes once with 499, drops the late answer") {
  Rig r;
  std::function<void()> resume;
  r.add("a", Act::pass);
  r.add("approval", Act::stop).resume = &resume;
  r.add("up", Act::answer);
  r.start();
  r.chain->client_gone();
  CHECK(r.log.joined() == "a approval cancel:approval done:approval:499 done:a:499");
  resume();  // the reviewers' answer arrives after all
  r.io.run();
  r.chain->client_gone();
  CHECK(r.log.joined() == "a approval cancel:approval done:approval:499 done:a:499");
  REQUIRE(r.counted.size() == 1);
  CHECK(r.counted[0].second == 499);
  CHECK(r.front->code == 0);  // nobody to answer
}

TEST_CASE("chain: a local reply at any stage ends the request there, counted with its code") {
  for (int at = 0; at < 3; ++at) {
    CAPTURE(at);
    Rig r;
    for (int i = 0; i < 3; ++i) r.add("s" + std::to_string(i), i == at ? Act::reply : Act::pass);
    r.add("up", Act::answer);
    r.start();
    CHECK(r.front->code == 403);
    CHECK(r.front->body.find("s" + std::to_string(at) + " refused") != std::string::npos);
    CHECK(r.front->body.find("\"kind\":\"Status\"") != std::string::npos);
    REQUIRE(r.counted.size() == 1);
    CHECK(r.counted[0] == std::make_pair(std::string("get"), 403));  // not classified: the method
    // every entered stage completes, none after the one that answered runs
    CHECK(r.log.events.size() == static_cast<std::size_t>(2 * (at + 1) + 1));
    CHECK(r.log.joined().find("up") == std::string::npos);
  }
}

TEST_CASE("chain: a stage that throws becomes a 500 Status for its request, not the end of the process") {
  Rig r;
  r.add("a", Act::pass);
  r.add("broken", Act::throws);
  r.add("up", Act::answer);
  r.start();
  CHECK(r.front->code == 500);
  CHECK(r.front->body.find("broken") != std::string::npos);
  CHECK(r.log.joined() == "a broken done:broken:500 done:a:500 reply:500");
  REQUIRE(r.counted.size() == 1);
}

TEST_CASE("chain: a completion handler that throws is caught too") {
  Rig r;
  std::function<void()> resume;
  auto& wait = r.add("wait", Act::stop);
  wait.resume = &resume;
  r.add("up", Act::answer);
  r.start();
  auto bad = r.chain->on_strand([] { throw std::runtime_error("late boom"); });
  bad();
  r.io.run();
  CHECK(r.front->code == 500);
  CHECK(r.counted.size() == 1);
}

TEST_CASE("chain: a chain whose stages all pass on is a bug, answered 500") {
  Rig r;
  r.add("a", Act::pass);
  r.start();
  CHECK(r.front->code == 500);
  CHECK(r.counted.size() == 1);
}

TEST_CASE("request context: metrics verbs come from a fixed set") {
  RequestContext c;
  c.method = "GET";
  CHECK(c.metrics_verb() == "get");
  c.method = "POST";
  CHECK(c.metrics_verb() == "create");
  c.method = "X-MINTED-BY-A-CLIENT";
  CHECK(c.metrics_verb() == "other");
  c.method = "GET";
  c.classified = true;
  c.info.verb = "watch";
  CHECK(c.metrics_verb() == "watch");
  c.info.verb = "brew";  // the classifier's lower-cased unknown method
  CHECK(c.metrics_verb() == "other");
}

namespace {
// A stage on the way back: logs what passes and marks the data, so the order shows.
struct WayBack : Stage {
  std::string id;
  Log& log;
  bool refuse_data = false;
  std::string held;  // given back when the chain is idle
  WayBack(std::string i, Log& l) : id(std::move(i)), log(l) {}
  const char* name() const override { return id.c_str(); }
  Next on_request(RequestContext&, Chain&) override { return Next::Continue; }
  Passed on_response_head(RequestContext&, ResponseStart& head) override {
    log.events.push_back("head@" + id + ":" + std::to_string(head.status));
    return sluice::common::Done{};
  }
  Passed on_response_data(RequestContext&, std::string& data, bool end) override {
    if (refuse_data) return sluice::common::Error{502, id + " refused"};
    data += "+" + id;
    log.events.push_back("data@" + id + (end ? ":end" : ""));
    return sluice::common::Done{};
  }
  void on_request_data(RequestContext&, const std::string& data) override { log.events.push_back("in@" + id + ":" + data); }
  bool holding() const override { return !held.empty(); }
  void on_response_idle(RequestContext&, std::string& out) override { out = std::exchange(held, ""); }
};
}  // namespace

TEST_CASE("chain: the answer passes back through the stages nearest the cluster first - client bytes in order") {
  Rig r;
  r.stages.push_back(std::make_unique<WayBack>("near-client", r.log));
  r.stages.push_back(std::make_unique<WayBack>("near-cluster", r.log));
  auto& far = static_cast<WayBack&>(*r.stages.back());
  std::function<void()> resume;
  r.add("up", Act::stop).resume = &resume;
  r.stages.push_back(std::make_unique<WayBack>("never-entered", r.log));
  r.start();
  r.log.events.clear();
  const sluice::HeaderList headers;
  ResponseStart head{200, headers};
  CHECK(r.chain->response_head(head).ok());
  std::string data = "x";
  CHECK(r.chain->response_data(data, true).ok());
  CHECK(data == "x+near-cluster+near-client");
  r.chain->request_data("ls");
  CHECK(r.log.joined() == "head@near-cluster:200 head@near-client:200 data@near-cluster:end data@near-client:end "
                          "in@near-client:ls in@near-cluster:ls");

  // what a stage held back comes out when the chain is idle, and passes the stages after it
  CHECK_FALSE(r.chain->response_holding());
  far.held = "tail";
  CHECK(r.chain->response_holding());
  std::string out;
  r.chain->response_idle(out);
  CHECK(out == "tail+near-client");
  CHECK_FALSE(r.chain->response_holding());

  // a refusal stops the answer there: the stages nearer the client never see it
  far.refuse_data = true;
  r.log.events.clear();
  data = "y";
  auto refused = r.chain->response_data(data, false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == 502);
  CHECK(refused.error().message == "near-cluster refused");
  CHECK(r.log.joined().empty());
  r.chain->complete(200);
}
