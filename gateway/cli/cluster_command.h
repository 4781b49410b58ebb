// `sluice-gateway cluster add|list|remove`: clusters whose agents may connect.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_cluster(const std::vector<std::string>& args);
// The database URL from --database, else --config's database.url, else $SLUICE_DATABASE_URL.
std::string database_url_from(const std::string& flag_url, const std::string& config_path, std::string& error);
}
