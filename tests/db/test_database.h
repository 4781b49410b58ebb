// Connection string of the throwaway PostgreSQL started by tests/pg/pg_start.sh, and a fresh
// database per test so tests do not see each other's rows.
#pragma once
#include <pqxx/pqxx>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "common/token_compare.h"

namespace sluice::testing {

inline std::string server_url() {
  const char* dir = std::getenv("SLUICE_TEST_PG_DIR");
  if (!dir) throw std::runtime_error("SLUICE_TEST_PG_DIR is not set: run through ctest (fixture 'postgres')");
  std::ifstream in(std::string(dir) + "/url");
  std::string url;
  std::getline(in, url);
  if (url.empty()) throw std::runtime_error(std::string("no PostgreSQL URL in ") + dir + "/url");
  return url;
}

// Creates an empty database and returns its URL.
inline std::string fresh_database() {
  const std::string base = server_url();
  const std::string name = "t_" + common::random_token_hex(6);
  {
    pqxx::connection c(base);
    pqxx::nontransaction tx(c);
    tx.exec("CREATE DATABASE " + name);
  }
  return base + " dbname=" + name;
}

}  // namespace sluice::testing
