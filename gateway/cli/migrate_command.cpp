#include "gateway/cli/migrate_command.h"

#include <boost/program_options.hpp>

#include <cstdlib>
#include <iostream>

#include "gateway/store/migrator.h"

namespace po = boost::program_options;

namespace sluice::gateway::cli {

int run_migrate(const std::vector<std::string>& args) {
  po::options_description opts("sluice-gateway migrate: apply the database schema (safe to run from several gateways at once)");
  opts.add_options()
      ("help,h", "show this help")
      ("database", po::value<std::string>(), "PostgreSQL URL or keyword string (default: $SLUICE_DATABASE_URL)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "sluice-gateway migrate: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  std::string url;
  if (vm.count("database")) url = vm["database"].as<std::string>();
  else if (const char* env = std::getenv("SLUICE_DATABASE_URL")) url = env;
  if (url.empty()) {
    std::cerr << "sluice-gateway migrate: --database URL is required (or set SLUICE_DATABASE_URL)\n";
    return 2;
  }
  try {
    auto report = store::migrate(url, store::embedded_migrations());
    if (report.applied.empty()) {
      std::cout << "schema is up to date at version " << report.schema_version << "\n";
    } else {
      std::cout << "applied";
      for (int v : report.applied) std::cout << ' ' << v;
      std::cout << "; schema is at version " << report.schema_version << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway migrate: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sluice::gateway::cli
