// doctest main for the WebSocket channel tests (ctest fixture "standin").
#include "../support/doctest_main.h"
