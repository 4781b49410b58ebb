// Policy evaluation cost per request: the default policy plus N generated rules (1,000 by
// default) of the kinds people write (per team namespace, per user, per resource), against a mix
// of requests that the policy allows. Run by hand; prints microseconds per evaluation.
//
//   policy_bench DEFAULT_POLICY.yaml [--extra-rules 1000] [--iterations 200000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/request_info.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/policy/policy_loader.h"

using namespace sluice::gateway::policy;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DEFAULT_POLICY.yaml [--extra-rules N] [--iterations N]\n", argv[0]);
    return 2;
  }
  int extra = 1000, iterations = 200000;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--extra-rules") extra = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--iterations") iterations = std::atoi(argv[i + 1]);
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const char* kinds[] = {"deployments", "configmaps", "services", "ingresses", "jobs"};
  for (int i = 0; i < extra; ++i) {
    std::ostringstream r;
    switch (i % 4) {
      case 0:  // a team's namespace: deletes there wait for the team lead
        r << "  - name: team-" << i << "-deletes\n    match: {verbs: [delete], namespaces: [team-" << i
          << "]}\n    action: approve\n    approval: {approvers: {users: [lead-" << i << "]}}\n";
        break;
      case 1:  // a user who may not touch one kind anywhere
        r << "  - name: user-" << i << "-no-" << kinds[i % 5] << "\n    match: {users: [contractor-" << i
          << "@example.com], resources: [" << kinds[i % 5] << "], verbs: [create, update, patch, delete]}\n"
          << "    action: deny\n";
        break;
      case 2:  // one cluster's objects by name
        r << "  - name: cluster-" << i << "-protected\n    match: {clusters: [edge-" << i
          << "], names: [\"critical-*\"], verbs: [delete, patch]}\n    action: deny\n";
        break;
      default:  // a group with a condition
        r << "  - name: group-" << i << "-privileged\n    match: {groups: [squad-" << i
          << "], resources: [pods], verbs: [create]}\n    when: {privileged: true}\n    action: deny\n";
    }
    yaml += r.str();
  }
  std::string error;
  auto policy = parse_policy(yaml, "bench.yaml", error);
  if (!policy) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  const PolicyEngine engine(std::move(*policy));
  const sluice::gateway::Identity who{"bot@example.com", "", {"ci", "developers"}, {}, "oidc"};
  const std::vector<std::pair<std::string, std::string>> asks = {
      {"GET", "/api/v1/namespaces/shop/pods/web-0"},
      {"GET", "/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion=10"},
      {"PATCH", "/apis/apps/v1/namespaces/shop/deployments/web"},
      {"POST", "/api/v1/namespaces/shop/configmaps"},
      {"DELETE", "/api/v1/namespaces/shop/configmaps/old"},
      {"GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"},
  };
  std::vector<sluice::common::RequestInfo> infos;
  for (const auto& [m, t] : asks) infos.push_back(sluice::common::classify_request(m, t).info);
  std::size_t allowed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    const auto& info = infos[static_cast<std::size_t>(i) % infos.size()];
    const auto d = engine.evaluate({"prod", who, info}, {});
    allowed += d.action == Action::allow;
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%zu rules: %.2f us per evaluation (%zu of %d allowed)\n", engine.policy().rules.size(),
              us / iterations, allowed, iterations);
  return allowed == static_cast<std::size_t>(iterations) ? 0 : 1;
}
