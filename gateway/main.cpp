// sluice-gateway: entry point; dispatches subcommands. The serving pipeline is wired here once it exists.
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "gateway/cli/approvals_command.h"
#include "gateway/cli/audit_command.h"
#include "gateway/cli/cluster_command.h"
#include "gateway/cli/login_command.h"
#include "gateway/cli/migrate_command.h"
#include "gateway/cli/policy_command.h"
#include "gateway/cli/serve_command.h"
#include "gateway/cli/sessions_command.h"
#include "gateway/cli/setup_commands.h"
#include "sluice/version.h"

namespace {
constexpr const char* kUsage =
    "Usage: sluice-gateway <command> [options]\n"
    "\n"
    "Commands:\n"
    "  serve --config FILE      run the gateway\n"
    "  migrate --database URL   apply the database schema (idempotent, safe to run concurrently)\n"
    "  cluster add NAME         register a cluster; prints its agent token once\n"
    "  cluster list             registered clusters, connected or not, agent version, last seen\n"
    "  cluster remove NAME      forget a cluster\n"
    "  audit list [--cluster --user --since --verb --resource] [-o json]   recent audit events\n"
    "  audit export [--since --until]   audit events as audit.k8s.io/v1 Event JSON lines\n"
    "  audit verify [--since]   check the audit trail's hash chain; names the first broken link\n"
    "  sessions [--user --cluster --since] [-o json]   recorded sessions\n"
    "  sessions show ID         every exchange of a session, with bodies (masked as the client saw them)\n"
    "  sessions export ID --asciicast   an exec session as asciicast v2\n"
    "  replay ID [--speed N]    play a recorded exec session with its original timing\n"
    "  approvals [--pending] [-o json]   approval requests (--server, --token-file or $SLUICE_SERVER, $SLUICE_TOKEN_FILE)\n"
    "  approvals show ID        one approval request, with its body and votes\n"
    "  approve ID [--reason R]  approve a held request\n"
    "  reject ID --reason R     reject a held request\n"
    "  policy check --policy FILE [--as U --groups G] -- KUBECTL ARGS   what the policy decides, and why\n"
    "  kubeconfig --cluster NAME --token-file F   print a kubeconfig that reaches NAME through the gateway\n"
    "  certs --dir DIR          write a self-signed CA and serving certificate (demo, tests)\n"
    "  login --issuer URL --client-id ID   kubectl's OIDC credential plugin (kubeconfig --oidc writes it in)\n"
    "\n"
    "Options:\n"
    "  -h, --help               show this help\n"
    "  --version                print the version\n"
    "\n"
    "Run 'sluice-gateway <command> --help' for a command's options.\n";
}

int main(int argc, char** argv) {
  // OpenSSL writes client sockets itself (TlsSocketStream) with send() without MSG_NOSIGNAL: a peer
  // gone mid-write must be an EPIPE error, not the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string cmd = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "sluice-gateway " << sluice::kVersion << "\n";
    return 0;
  }
  if (cmd == "migrate") return sluice::gateway::cli::run_migrate(rest);
  if (cmd == "serve") return sluice::gateway::cli::run_serve(rest);
  if (cmd == "cluster") return sluice::gateway::cli::run_cluster(rest);
  if (cmd == "audit") return sluice::gateway::cli::run_audit(rest);
  if (cmd == "sessions") return sluice::gateway::cli::run_sessions(rest);
  if (cmd == "replay") return sluice::gateway::cli::run_replay(rest);
  if (cmd == "approvals") return sluice::gateway::cli::run_approvals(rest);
  if (cmd == "approve") return sluice::gateway::cli::run_vote(true, rest);
  if (cmd == "reject") return sluice::gateway::cli::run_vote(false, rest);
  if (cmd == "policy") return sluice::gateway::cli::run_policy(rest);
  if (cmd == "kubeconfig") return sluice::gateway::cli::run_kubeconfig(rest);
  if (cmd == "certs") return sluice::gateway::cli::run_certs(rest);
  if (cmd == "login") return sluice::gateway::cli::run_login(rest);
  std::cerr << "sluice-gateway: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}
