#include "gateway/cli/command_line.h"

#include <iostream>

namespace po = boost::program_options;

namespace sluice::gateway::cli {

std::optional<int> parse_command_line(const std::string& command, const std::vector<std::string>& args,
                                      const po::options_description& visible, const po::options_description& hidden,
                                      const po::positional_options_description& positional, po::variables_map& vm) {
  po::options_description all;
  all.add(visible).add(hidden);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "sluice-gateway " << command << ": " << e.what() << "\n" << visible;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  return std::nullopt;
}

}  // namespace sluice::gateway::cli
