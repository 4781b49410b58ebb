// The audit writer alone against a real PostgreSQL: CPU per request in the database backend and
// in the writer, for the batch sizes the proxy produces. Each simulated client records an intent,
// waits for its commit, "proxies" for --think-us, records the outcome, and starts over, as
// the audit commit stage does. Run by hand (tests/bench/bench.sh prints the command); not part of ctest.
//
//   audit_writer_bench DATABASE_URL [--clients 32] [--seconds 10] [--think-us 6000]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "gateway/audit/audit_writer.h"
#include "gateway/store/migrator.h"

namespace audit = sluice::gateway::audit;
using namespace std::chrono;

namespace {

// utime + stime of a process, in microseconds (from /proc, clock ticks).
double process_cpu_us(const std::string& proc) {
  std::ifstream in("/proc/" + proc + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) {
      stime = std::stoull(f);
      break;
    }
  }
  return double(utime + stime) * 1e6 / double(sysconf(_SC_CLK_TCK));
}

// The writer's own thread (named "sluice-audit"), found among ours.
double writer_thread_cpu_us() {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name == "sluice-audit") return process_cpu_us("self/task/" + task.path().filename().string());
  }
  return 0;
}

audit::AuditIntent sample_intent() {
  audit::AuditIntent a;
  a.id = audit::new_audit_id();
  a.received_at = audit::Clock::now();
  a.cluster = "bench";
  a.who.user = "alice@example.com";
  a.who.groups = {"developers", "system:authenticated"};
  a.who.method = "oidc";
  a.source_ip = "10.0.0.7";
  a.user_agent = "kubectl/v1.32.0 (linux/amd64) kubernetes/abcdef";
  a.kubectl_command = "kubectl get";
  a.kubectl_session = "0f9c2a4e-5d1b-4c7e-9a6f-3b2d1e0c9f8a";
  a.request.verb = "get";
  a.request.api_version = "v1";
  a.request.resource = "pods";
  a.request.namespace_name = "default";
  a.request.name = "web-0";
  a.request_uri = "/api/v1/namespaces/default/pods/web-0";
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATABASE_URL [--clients N] [--seconds S] [--think-us U]\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  int clients = 32, run_seconds = 10, think_us = 6000;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--clients") clients = v;
    else if (k == "--seconds") run_seconds = v;
    else if (k == "--think-us") think_us = v;
  }
  sluice::gateway::store::migrate(url, sluice::gateway::store::embedded_migrations());
  audit::AuditWriter writer({.database_url = url});

  // The writer's backend: the one connection that is not ours.
  std::atomic<bool> stop{false};
  std::atomic<long> done_requests{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      while (!stop) {
        auto intent = sample_intent();
        audit::AuditOutcome outcome;
        outcome.id = intent.id;
        outcome.received_at = intent.received_at;
        std::promise<bool> committed;
        auto f = committed.get_future();
        writer.record_intent(std::move(intent), [&committed](bool ok) { committed.set_value(ok); });
        if (!f.get()) {
          std::fprintf(stderr, "intent refused\n");
          std::exit(1);
        }
        std::this_thread::sleep_for(microseconds(think_us));
        outcome.response_code = 200;
        outcome.duration_ms = think_us / 1000.0;
        outcome.bytes_out = 1234;
        outcome.finished_at = audit::Clock::now();
        writer.record_outcome(std::move(outcome));
        ++done_requests;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // warm up: connect, prepare
  pqxx::connection probe(url);
  const auto backend = pqxx::nontransaction(probe).exec(
      "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
      "AND datname = current_database() ORDER BY backend_start DESC LIMIT 1");
  const int backend_pid = backend.empty() ? 0 : backend[0][0].as<int>();
  const auto commits = [&probe] {
    return pqxx::nontransaction(probe)
        .exec("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")[0][0]
        .as<double>();
  };
  const double x0 = commits();
  const long r0 = done_requests;
  const double pg0 = process_cpu_us(std::to_string(backend_pid)), self0 = writer_thread_cpu_us();
  const auto t0 = steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(run_seconds));
  const long r1 = done_requests;
  const double pg1 = process_cpu_us(std::to_string(backend_pid)), self1 = writer_thread_cpu_us();
  const double elapsed = duration<double>(steady_clock::now() - t0).count();
  const double x1 = commits() - 1;
  stop = true;
  for (auto& t : threads) t.join();
  const double n = double(r1 - r0);
  std::printf("requests/s %.0f  requests/transaction %.1f  postgres backend %.1f us/request  "
              "writer thread %.1f us/request\n",
              n / elapsed, n / (x1 - x0), (pg1 - pg0) / n, (self1 - self0) / n);
  return 0;
}
