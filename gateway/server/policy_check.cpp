#include "gateway/server/policy_check.h"

#include <boost/asio/post.hpp>
#include <cctype>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "gateway/pipeline/request_rewrite.h"
#include "gateway/tunnel/tunnel_fetch.h"

namespace sluice::gateway {
namespace {

namespace net = boost::asio;
using nlohmann::json;

// A JSON body, read here only when it is sent as JSON. Anything else (YAML, protobuf, CBOR) is
// judged on the API server's own dry-run answer: YAML 1.1 as the API server reads it (merge keys,
// !!binary, yes/on booleans) differs from what any C++ reader makes of it, and a rule must see
// the object the cluster would see, not our reading of the bytes.
std::optional<json> parse_body(const std::string& content_type, std::string_view body) {
  if (body.empty()) return std::nullopt;
  std::string media = content_type.substr(0, content_type.find(';'));
  media.erase(media.find_last_not_of(" \t") + 1);
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (media != "application/json") return std::nullopt;
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

struct Gathering {
  std::shared_ptr<const policy::PolicyEngine> engine;
  std::vector<const policy::Rule*> candidates;
  PolicyQuestion q;
  std::optional<json> body, live, ns;
  bool live_absent = false, ns_absent = false;
  int outstanding = 0;
  std::function<void(PolicyVerdict)> done;
  common::Cancel cancel;

  void decide() {
    if (cancel && cancel->cancelled()) return;  // nobody waits for this verdict any more
    policy::Evidence ev;
    if (body) ev.request_body = &*body;
    if (live) ev.live_object = &*live;
    ev.live_object_absent = live_absent;
    if (ns) ev.namespace_object = &*ns;
    ev.namespace_absent = ns_absent;
    PolicyVerdict v{engine, engine->decide(candidates, {q.cluster, q.who, q.info}, ev)};
    done(std::move(v));
  }
};

// Sends one request through the tunnel as the requester, hands the answer to `use`, and decides
// once the last outstanding answer is in.
void ask(net::any_io_executor ex, tunnel::TunnelRegistry& tunnels, const std::shared_ptr<Gathering>& g,
         const char* purpose, std::string method, std::string target, HeaderList headers, std::string body,
         std::function<void(Gathering&, const tunnel::FetchResult&)> use) {
  ++g->outstanding;
  audited_fetch(ex, tunnels, g->q.audit, g->q.who, purpose,
                fetch_as(g->q.cluster, g->q.who, std::move(method), std::move(target), std::move(headers),
                         std::move(body)), [g, use = std::move(use)](tunnel::FetchResult r) {
    use(*g, r);
    if (--g->outstanding == 0) g->decide();
  }, g->cancel);
}

std::string failure(const tunnel::FetchResult& r) { return r.status ? "HTTP " + std::to_string(r.status) : r.error; }

// Reads `path` into `into`; a 404 sets `absent`; anything else leaves both unset.
void fetch_into(net::any_io_executor ex, tunnel::TunnelRegistry& tunnels, const std::shared_ptr<Gathering>& g,
                const std::string& path, std::optional<json> Gathering::*into, bool Gathering::*absent) {
  ask(ex, tunnels, g, "policy lookup", "GET", path, {}, "", [into, absent, path](Gathering& g, const tunnel::FetchResult& r) {
    if (r.status == 200) {
      auto j = json::parse(r.body, nullptr, false);
      if (j.is_object()) g.*into = std::move(j);
    } else if (r.status == 404) {
      g.*absent = true;
    } else {
      spdlog::info("policy: could not read {} on {} as {} ({}): its conditions count as met", path, g.q.cluster,
                   g.q.who.user, failure(r));
    }
  });
}

// What a create, update or patch would make, as the API server itself computes it: the same
// request with dryRun=All, answered in JSON. Used when the body cannot be read as a whole object
// here (kubectl sends protobuf for built-in types; a patch holds only what it changes).
void dry_run_into_body(net::any_io_executor ex, tunnel::TunnelRegistry& tunnels, const std::shared_ptr<Gathering>& g) {
  const auto& q = g->q;
  ask(ex, tunnels, g, "policy dry run", q.method, dry_run_target(q.target),
      {{"Content-Type", q.content_type}}, std::string(q.body), [](Gathering& g, const tunnel::FetchResult& r) {
        if (r.status == 200 || r.status == 201) {
          auto j = json::parse(r.body, nullptr, false);
          if (j.is_object()) g.body = std::move(j);
        } else {
          spdlog::info("policy: the dry run of {} {} on {} as {} failed ({}): its conditions count as met",
                       g.q.info.verb, g.q.info.path, g.q.cluster, g.q.who.user, failure(r));
        }
      });
}

}  // namespace

void check_policy(net::any_io_executor executor, tunnel::TunnelRegistry& tunnels,
                  std::shared_ptr<const policy::PolicyEngine> engine, PolicyQuestion question,
                  std::function<void(PolicyVerdict)> done, common::Cancel cancel) {
  auto g = std::make_shared<Gathering>();
  g->cancel = std::move(cancel);
  g->engine = std::move(engine);
  g->q = std::move(question);
  g->done = std::move(done);
  g->outstanding = 1;  // this function's own share: decide only after every fetch has started
  g->candidates = g->engine->candidates({g->q.cluster, g->q.who, g->q.info});
  const auto needs = g->engine->needs(g->candidates, g->q.info);
  if (needs.request_body) {
    const bool patch = g->q.info.verb == "patch";
    if (!patch) g->body = parse_body(g->q.content_type, g->q.body);
    if (patch || !g->body || !g->body->is_object())
      dry_run_into_body(executor, tunnels, g);
  }
  if (needs.live_object) {
    const auto path = live_object_path(g->q.info);
    if (path.empty()) g->live_absent = true;  // a create, or a collection: no single object yet
    else fetch_into(executor, tunnels, g, path, &Gathering::live, &Gathering::live_absent);
  }
  if (needs.namespace_object) {
    if (g->q.info.namespace_name.empty()) g->ns_absent = true;
    else fetch_into(executor, tunnels, g, "/api/v1/namespaces/" + g->q.info.namespace_name, &Gathering::ns,
                    &Gathering::ns_absent);
  }
  if (--g->outstanding == 0) g->decide();
}

}  // namespace sluice::gateway
