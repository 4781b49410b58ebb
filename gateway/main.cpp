// sluice-gateway: entry point; dispatches subcommands. The serving pipeline is wired here once it exists.
#include <iostream>
#include <string>
#include <vector>

#include "gateway/cli/migrate_command.h"
#include "sluice/version.h"

namespace {
constexpr const char* kUsage =
    "Usage: sluice-gateway <command> [options]\n"
    "\n"
    "Commands:\n"
    "  migrate --database URL   apply the database schema (idempotent, safe to run concurrently)\n"
    "\n"
    "Options:\n"
    "  -h, --help               show this help\n"
    "  --version                print the version\n"
    "\n"
    "Run 'sluice-gateway <command> --help' for a command's options.\n";
}

int main(int argc, char** argv) {
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
  std::cerr << "sluice-gateway: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}
