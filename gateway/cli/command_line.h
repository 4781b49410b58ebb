// The part every subcommand's option parsing shares: parse, print usage on a mistake, answer --help.
#pragma once
#include <boost/program_options.hpp>

#include <optional>
#include <string>
#include <vector>

namespace sluice::gateway::cli {

// nullopt: go on with `vm`. Otherwise the exit code: 2 after a usage error (printed with
// `visible`), 0 after --help. `hidden` holds the positional arguments named in `positional`.
std::optional<int> parse_command_line(const std::string& command, const std::vector<std::string>& args,
                                      const boost::program_options::options_description& visible,
                                      const boost::program_options::options_description& hidden,
                                      const boost::program_options::positional_options_description& positional,
                                      boost::program_options::variables_map& vm);

}  // namespace sluice::gateway::cli
