// doctest's main for every test binary, with one addition: a run whose filters match no test case
// fails. ctest runs each case through a --test-case filter, and a name the filter syntax splits
// (a ';' did, for 20 cases) would otherwise "pass" having run nothing.
#pragma once
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

namespace sluice_test_main {

inline unsigned matched_cases = 0;

struct MatchCounter : doctest::IReporter {
  explicit MatchCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override { matched_cases = stats.numTestCasesPassingFilters; }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace sluice_test_main

REGISTER_LISTENER("sluice-match-counter", 1, sluice_test_main::MatchCounter);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const bool query = context.shouldExit();  // --list-test-cases, --help, --count: nothing runs
  const int rc = context.run();
  if (!query && rc == 0 && sluice_test_main::matched_cases == 0) {
    std::cerr << "no test case matches the filters: a name with ';' (doctest splits filters there) "
                 "cannot be run by name; rename it\n";
    return 1;
  }
  return rc;
}
