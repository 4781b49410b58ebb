// doctest's main for the tests that need the throwaway PostgreSQL (ctest fixture "postgres").
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
