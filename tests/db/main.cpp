// doctest main for the tests that need the throwaway PostgreSQL (ctest fixture "postgres").
#include "../support/doctest_main.h"
