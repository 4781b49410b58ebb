// The streaming masker alone (run by hand): MB/s over a file fed in 64 KiB pieces, as the tunnel
// delivers it. Usage: masking_bench FILE secrets|pods-env [ROUNDS]
//   secrets   the file is a response about Secrets (every value masked)
//   pods-env  a response about pods with a profile field (spec.containers[*].env[*].value)
// (A response that needs no masking is not parsed at all: plan_masking gives it Kind::none.)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "gateway/masking/json_stream_masker.h"

using namespace sluice::gateway::masking;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: masking_bench FILE secrets|pods-env [ROUNDS]\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  const std::string mode = argv[2];
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  auto profile = std::make_shared<MaskingProfile>();
  std::string error;
  profile->fields.push_back({"", "pods", "spec.containers[*].env[*].value",
                             *parse_field_path("spec.containers[*].env[*].value", error)});
  MaskScope scope;
  scope.secrets = mode == "secrets";
  scope.resource = mode == "secrets" ? "secrets" : "pods";
  scope.profile = mode == "pods-env" ? profile.get() : nullptr;
  double best = 1e9;
  std::size_t out_bytes = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t total = 0;
    JsonStreamMasker m(scope);
    std::string out;
    for (std::size_t at = 0; at < body.size(); at += 65536) {
      out.clear();
      if (!m.feed(std::string_view(body).substr(at, 65536), out)) {
        std::cerr << "masking failed: " << m.error() << "\n";
        return 1;
      }
      total += out.size();
    }
    out.clear();
    m.finish(out);
    total += out.size();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    out_bytes = total;
  }
  std::printf("%s: %.1f MB in, %.1f MB out, best of %d: %.3f s, %.1f MB/s\n", mode.c_str(), body.size() / 1e6,
              out_bytes / 1e6, rounds, best, body.size() / 1e6 / best);
  return 0;
}
