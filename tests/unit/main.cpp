// doctest main, alone in its file because it is slow to compile (see the header for what it adds).
#include "../support/doctest_main.h"
