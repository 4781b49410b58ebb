// The stand-in reads boolean query values as kube-apiserver does (Convert_Slice_string_To_bool):
// the Python client sends watch=True, follow=True, stdin=True.
#include <doctest/doctest.h>

#include "http_session.h"

using namespace sluice::standin;

TEST_CASE("stand-in: a boolean query value is true unless absent, 0 or false in any case") {
  HttpRequest r;
  CHECK_FALSE(r.param_bool("watch"));
  for (const char* yes : {"true", "True", "TRUE", "1", "yes", ""}) {
    CAPTURE(yes);
    r.query = {{"watch", yes}};
    CHECK(r.param_bool("watch"));
  }
  for (const char* no : {"false", "False", "FALSE", "0"}) {
    CAPTURE(no);
    r.query = {{"watch", no}};
    CHECK_FALSE(r.param_bool("watch"));
  }
}
