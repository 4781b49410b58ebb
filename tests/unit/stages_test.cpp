// The request stages on their own, each driven through a real Chain with a fake front and a fake
// last stage: what each lets through, what each refuses and how, and what it leaves in the context.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "gateway/auth/static_token_authenticator.h"
#include "gateway/pipeline/chain.h"
#include "gateway/pipeline/request_rewrite.h"
#include "gateway/stages/authenticate_stage.h"
#include "gateway/stages/classify_stage.h"
#include "gateway/stages/guard_stage.h"
#include "gateway/stages/masking_stage.h"
#include "gateway/stages/response_masking_stage.h"
#include "gateway/stages/route_stage.h"

using namespace sluice;
using namespace sluice::gateway;
using namespace sluice::gateway::pipeline;
namespace net = boost::asio;

namespace {

struct Front : Downstream {
  int code = 0;
  std::string body;
  void local_reply(int c, const std::string&, std::string b, const HeaderList&) override {
    code = c;
    body = std::move(b);
  }
  void send_head(ResponseHead, std::string, bool, Written) override {}
  void send_data(std::string, bool, Written) override {}
  void read_upgraded(std::function<void(std::optional<std::string>)>) override {}
  void finish_response(bool) override {}
  void watch_client_while_waiting() override {}
  void stop_watching(std::function<void()> resume) override { resume(); }
};

// Stands for the upstream: the request reached it, with this context.
struct Reached : Stage {
  RequestContext* seen = nullptr;
  const char* name() const override { return "reached"; }
  Next on_request(RequestContext& ctx, Chain& chain) override {
    seen = &ctx;
    chain.complete(200);
    return Next::Stop;
  }
};

struct Run {
  net::io_context io;
  std::shared_ptr<Front> front = std::make_shared<Front>();
  Reached* reached = nullptr;
  std::shared_ptr<Chain> chain;
  std::vector<std::pair<std::string, int>> counted;

  Run(std::unique_ptr<Stage> stage, RequestContext ctx) {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::move(stage));
    auto r = std::make_unique<Reached>();
    reached = r.get();
    stages.push_back(std::move(r));
    chain = std::make_shared<Chain>(net::make_strand(io), std::move(stages), front,
                                    [this](const RequestContext& c, int code, double) {
                                      counted.emplace_back(c.metrics_verb(), code);
                                    },
                                    std::move(ctx));
    chain->start();
    io.run();
  }
  bool passed() const { return reached->seen != nullptr; }
};

RequestContext request(std::string method, std::string target, HeaderList headers = {}, std::string body = {}) {
  RequestContext c;
  c.method = std::move(method);
  c.target = c.cluster_target = std::move(target);
  c.cluster = "c1";
  c.headers = std::move(headers);
  c.body = std::move(body);
  Identity who;
  who.user = "bot";
  c.identity = who;
  return c;
}

}  // namespace

TEST_CASE("authenticate stage: a known token names the caller - anything else is a 401 Status") {
  std::string error;
  auto tokens = StaticTokenAuthenticator::parse("t0ken,bot,u1,\"ci,bots\"\n", error);
  REQUIRE(tokens);
  AuthenticatorChain auth;
  auth.add(std::make_shared<StaticTokenAuthenticator>(std::move(*tokens)));
  {
    auto c = request("GET", "/clusters/c1/api/v1/pods", {{"Authorization", "Bearer t0ken"}});
    c.identity.reset();
    Run run(std::make_unique<stages::AuthenticateStage>(auth), std::move(c));
    REQUIRE(run.passed());
    CHECK(run.reached->seen->identity->user == "bot");
    CHECK(run.reached->seen->identity->groups == std::vector<std::string>{"ci", "bots"});
  }
  for (const char* header : {"Bearer wrong", "Basic Ym90OnQwa2Vu", ""}) {
    CAPTURE(header);
    auto c = request("GET", "/clusters/c1/api/v1/pods", {{"Authorization", header}});
    c.identity.reset();
    Run run(std::make_unique<stages::AuthenticateStage>(auth), std::move(c));
    CHECK_FALSE(run.passed());
    CHECK(run.front->code == 401);
    CHECK(run.front->body.find("\"reason\":\"Unauthorized\"") != std::string::npos);
    REQUIRE(run.counted.size() == 1);
    CHECK(run.counted[0].second == 401);
  }
}

TEST_CASE("route stage: a path outside /clusters/<name> is a 404 that says where clusters are") {
  gateway::tunnel::TunnelRegistry tunnels;
  tunnels.add_tunnel("c1", "0.1.0", [](unsigned) {});
  gateway::store::Database db("postgresql://nobody@127.0.0.1:1/none", 1);  // connects on the first job: never
  ClusterDirectory directory(db);                                          // not started: nothing known from it
  {
    auto c = request("GET", "");
    c.target = "/clusters/c1/api/v1/namespaces?limit=5";
    c.cluster.clear();
    Run run(std::make_unique<stages::RouteStage>(tunnels, directory, "clusters.sluice.internal"), std::move(c));
    REQUIRE(run.passed());
    CHECK(run.reached->seen->cluster == "c1");
    CHECK(run.reached->seen->cluster_target == "/api/v1/namespaces?limit=5");
  }
  auto c = request("GET", "");
  c.target = "/api/v1/namespaces";
  Run run(std::make_unique<stages::RouteStage>(tunnels, directory, "clusters.sluice.internal"), std::move(c));
  CHECK_FALSE(run.passed());
  CHECK(run.front->code == 404);
  CHECK(run.front->body.find("/clusters/<name>/") != std::string::npos);
}

TEST_CASE("route stage: without the prefix, the cluster the TLS server name names gets the whole path") {
  gateway::tunnel::TunnelRegistry tunnels;
  tunnels.add_tunnel("c1", "0.1.0", [](unsigned) {});
  gateway::store::Database db("postgresql://nobody@127.0.0.1:1/none", 1);
  ClusterDirectory directory(db);
  auto stage = [&] { return std::make_unique<stages::RouteStage>(tunnels, directory, "clusters.sluice.internal"); };
  {
    auto c = request("GET", "");
    c.target = "/version";  // kubectl get --raw /version
    c.cluster.clear();
    c.sni_cluster = "c1";
    Run run(stage(), std::move(c));
    REQUIRE(run.passed());
    CHECK(run.reached->seen->cluster == "c1");
    CHECK(run.reached->seen->cluster_target == "/version");
  }
  {
    auto c = request("GET", "");
    c.target = "/clusters/c1/openapi/v2";  // both say c1
    c.cluster.clear();
    c.sni_cluster = "c1";
    Run run(stage(), std::move(c));
    REQUIRE(run.passed());
    CHECK(run.reached->seen->cluster_target == "/openapi/v2");
  }
  auto c = request("GET", "");
  c.target = "/clusters/c2/api/v1/secrets";  // the path and the server name disagree: refused
  c.cluster.clear();
  c.sni_cluster = "c1";
  Run run(stage(), std::move(c));
  CHECK_FALSE(run.passed());
  CHECK(run.front->code == 400);
  CHECK(run.front->body.find("TLS server name") != std::string::npos);
}

TEST_CASE("cluster_named_by: <cluster>.<suffix>, case-insensitive, one valid cluster label") {
  const std::string suffix = "clusters.sluice.internal";
  CHECK(gateway::cluster_named_by("prod-eu.clusters.sluice.internal", suffix) == "prod-eu");
  CHECK(gateway::cluster_named_by("Prod-EU.Clusters.Sluice.Internal", suffix) == "prod-eu");
  for (const char* none : {"", "127.0.0.1", "localhost", "clusters.sluice.internal", ".clusters.sluice.internal",
                           "a.b.clusters.sluice.internal", "-x.clusters.sluice.internal", "prodclusters.sluice.internal",
                           "prod.clusters.sluice.internal.evil.com", "prod_eu.clusters.sluice.internal"}) {
    CAPTURE(none);
    CHECK(gateway::cluster_named_by(none, suffix).empty());
  }
  CHECK(gateway::cluster_named_by("prod.clusters.sluice.internal", "").empty());
}

TEST_CASE("classify stage: the request is read as kube-apiserver reads it, or refused") {
  {
    Run run(std::make_unique<stages::ClassifyStage>(), request("GET", "/api/v1/namespaces/shop/pods?watch=true"));
    REQUIRE(run.passed());
    const auto& info = run.reached->seen->info;
    CHECK(info.verb == "watch");
    CHECK(info.resource == "pods");
    CHECK(info.namespace_name == "shop");
    CHECK(run.counted[0].first == "watch");  // the classified verb reaches the metrics
  }
  {
    Run run(std::make_unique<stages::ClassifyStage>(), request("POST", "/api/v1/namespaces/shop/pods/web/exec?command=sh"));
    REQUIRE(run.passed());
    CHECK(run.reached->seen->info.verb == "create");
    CHECK(run.reached->seen->info.subresource == "exec");
  }
  // two parsers could disagree on a repeated key: refused
  Run bad(std::make_unique<stages::ClassifyStage>(), request("GET", "/api/v1/namespaces/shop/pods?watch=0&watch=1"));
  CHECK_FALSE(bad.passed());
  CHECK(bad.front->code == 400);
  CHECK(bad.chain->context().refusal.find("watch") != std::string::npos);  // audited as denied with its reason
  // an invalid option is 422 with its cause, as kube-apiserver's errors.NewInvalid words it
  Run invalid(std::make_unique<stages::ClassifyStage>(), request("POST", "/api/v1/namespaces/a/pods?dryRun=None"));
  CHECK(invalid.front->code == 422);
  CHECK(invalid.front->body.find("\"field\":\"dryRun\"") != std::string::npos);
}

TEST_CASE("guard stage: client impersonation is refused whatever the policy says") {
  for (const char* name : {"Impersonate-User", "impersonate-group", "Impersonate-Extra-scopes", "Impersonate-Uid"}) {
    CAPTURE(name);
    auto c = request("GET", "/api/v1/pods", {{name, "admin"}});
    Run run(std::make_unique<stages::GuardStage>(), std::move(c));
    CHECK_FALSE(run.passed());
    CHECK(run.front->code == 403);
    CHECK(run.front->body.find("impersonation") != std::string::npos);
  }
  Run ok(std::make_unique<stages::GuardStage>(), request("GET", "/api/v1/pods", {{"Accept", "application/json"}}));
  CHECK(ok.passed());
}

TEST_CASE("masking stage: a Secret read gets a JSON plan - exec over SPDY, which cannot be masked, is refused") {
  {
    auto c = request("GET", "/api/v1/namespaces/shop/secrets/db");
    c.info = common::classify_request("GET", "/api/v1/namespaces/shop/secrets/db").info;
    Run run(std::make_unique<stages::MaskingStage>(), std::move(c));
    REQUIRE(run.passed());
    CHECK(run.reached->seen->masking_plan.kind == masking::MaskingPlan::Kind::json);
  }
  {
    auto c = request("GET", "/api/v1/namespaces/shop/configmaps/x");
    c.info = common::classify_request("GET", "/api/v1/namespaces/shop/configmaps/x").info;
    Run run(std::make_unique<stages::MaskingStage>(), std::move(c));
    REQUIRE(run.passed());
    CHECK(run.reached->seen->masking_plan.kind == masking::MaskingPlan::Kind::none);
  }
  auto c = request("POST", "/api/v1/namespaces/shop/pods/web/exec?command=sh&stdout=true",
                   {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}, {"X-Stream-Protocol-Version", "v4.channel.k8s.io"}});
  c.info = common::classify_request("POST", c.cluster_target).info;
  c.upgrade = true;
  Run run(std::make_unique<stages::MaskingStage>(), std::move(c));
  CHECK_FALSE(run.passed());
  CHECK(run.front->code == 400);
}

namespace {
// The cluster's answer through masking (plan) and response masking (filter), as the upstream
// stage hands it to the chain: what the client would get, or why it gets nothing.
struct Answered {
  std::string head_error, data_error, body;
  bool rewritten = false;
};

struct Answers : Stage {
  int status;
  HeaderList headers;
  std::string body;
  Answered* out;
  Answers(int s, HeaderList h, std::string b, Answered* o) : status(s), headers(std::move(h)), body(std::move(b)), out(o) {}
  const char* name() const override { return "answers"; }
  Next on_request(RequestContext&, Chain& chain) override {
    ResponseStart head{status, headers};
    if (auto r = chain.response_head(head); !r) out->head_error = r.error().message;
    else if (auto d = chain.response_data(body, true); !d) out->data_error = d.error().message;
    out->body = body;
    out->rewritten = head.body_rewritten;
    chain.complete(status);
    return Next::Stop;
  }
};

Answered answer(const std::string& target, int status, HeaderList headers, std::string body) {
  auto c = request("GET", target);
  c.info = common::classify_request("GET", target).info;
  Answered got;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<stages::MaskingStage>());
  stages.push_back(std::make_unique<stages::ResponseMaskingStage>());
  stages.push_back(std::make_unique<Answers>(status, std::move(headers), std::move(body), &got));
  net::io_context io;
  auto chain = std::make_shared<Chain>(net::make_strand(io), std::move(stages), std::make_shared<Front>(), nullptr,
                                       std::move(c));
  chain->start();
  io.run();
  return got;
}
}  // namespace

TEST_CASE("response masking stage: a Secret's values never pass - what cannot be read is refused - the rest passes as is") {
  const std::string secret = R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{"password":"aHVudGVyMg=="}})";
  auto masked = answer("/api/v1/namespaces/shop/secrets/db", 200, {{"Content-Type", "application/json"}}, secret);
  CHECK(masked.head_error.empty());
  CHECK(masked.data_error.empty());
  CHECK(masked.rewritten);  // its Content-Length goes: the body changed
  CHECK(masked.body.find("aHVudGVyMg==") == std::string::npos);
  CHECK(masked.body.find("\"password\"") != std::string::npos);

  auto protobuf = answer("/api/v1/namespaces/shop/secrets/db", 200,
                         {{"Content-Type", "application/vnd.kubernetes.protobuf"}}, "k8s\0...");
  CHECK(protobuf.head_error.find("protobuf") != std::string::npos);

  auto broken = answer("/api/v1/namespaces/shop/secrets/db", 200, {{"Content-Type", "application/json"}},
                       R"({"kind":"Secret","data":{"password":)");
  CHECK(broken.data_error.find("could not be checked for secrets") != std::string::npos);

  const std::string cm = R"({"kind":"ConfigMap","data":{"a":"b"}})";
  auto plain = answer("/api/v1/namespaces/shop/configmaps/x", 200, {{"Content-Type", "application/json"}}, cm);
  CHECK(plain.body == cm);
  CHECK_FALSE(plain.rewritten);
}
