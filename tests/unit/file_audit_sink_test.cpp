#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/notify/audit_exporter.h"

using sluice::gateway::audit::FileAuditSink;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("sluice-sink-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(reinterpret_cast<std::uintptr_t>(this)));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

int lines_in(const fs::path& p) {
  std::ifstream in(p);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}
}  // namespace

TEST_CASE("file audit sink: one large batch rotates within the batch, keeps every event, never past max_files") {
  TempDir dir;
  const auto path = dir.path / "audit.jsonl";
  FileAuditSink sink("local", path.string(), 1000, 3);
  std::vector<nlohmann::json> events;
  for (int i = 0; i < 20; ++i) events.push_back({{"auditID", std::to_string(i)}, {"pad", std::string(200, 'x')}});
  REQUIRE(sink.deliver(events).ok);
  // ~230 bytes a line, 4 lines a file: 20 lines fill 5 files, of which the newest 4 are kept.
  CHECK(fs::exists(path));
  CHECK(fs::exists(dir.path / "audit.jsonl.1"));
  CHECK(fs::exists(dir.path / "audit.jsonl.3"));
  CHECK_FALSE(fs::exists(dir.path / "audit.jsonl.4"));
  int total = 0;
  for (const auto& f : fs::directory_iterator(dir.path)) {
    CHECK(fs::file_size(f.path()) <= 1000);
    total += lines_in(f.path());
  }
  CHECK(total == 16);
  std::ifstream newest(path);
  std::string last, line;
  while (std::getline(newest, line)) last = line;
  CHECK(nlohmann::json::parse(last)["auditID"] == "19");
}

TEST_CASE("file audit sink: a line larger than max_bytes still gets written, alone in its file") {
  TempDir dir;
  const auto path = dir.path / "audit.jsonl";
  FileAuditSink sink("local", path.string(), 100, 5);
  REQUIRE(sink.deliver({{{"pad", std::string(300, 'y')}}, {{"pad", "small"}}}).ok);
  CHECK(lines_in(path) == 1);
  CHECK(lines_in(dir.path / "audit.jsonl.1") == 1);
}
