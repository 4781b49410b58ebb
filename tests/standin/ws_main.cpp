// doctest's main for the WebSocket channel tests (ctest fixture "standin").
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
