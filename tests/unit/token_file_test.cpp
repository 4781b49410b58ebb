#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "agent/token_file.h"
#include "common/tls_certs.h"

using sluice::agent::TokenFile;
using sluice::common::write_file;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("sluice-token-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(reinterpret_cast<std::uintptr_t>(this)));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};
}  // namespace

TEST_CASE("a token file is read once, trimmed, and read again when it is replaced") {
  TempDir dir;
  const std::string token = (dir.path / "token").string();
  write_file(token, "first-token\n", 0600);
  TokenFile file(token);
  CHECK(file.get() == "first-token");
  CHECK(file.get() == "first-token");
  // the kubelet's way: a new file renamed over the old one
  write_file(token + ".new", "second-token-longer\n", 0600);
  fs::rename(token + ".new", token);
  CHECK(file.get() == "second-token-longer");
}

TEST_CASE("while a rotation leaves no file, the last token read is used - with none read, it is an error") {
  TempDir dir;
  const std::string token = (dir.path / "token").string();
  CHECK_THROWS(TokenFile(token).get());
  write_file(token, "kept", 0600);
  TokenFile file(token);
  CHECK(file.get() == "kept");
  fs::remove(token);
  CHECK(file.get() == "kept");
}
