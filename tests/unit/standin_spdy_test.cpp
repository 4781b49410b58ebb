#include <doctest/doctest.h>
#include <zlib.h>

#include "spdy_session.h"

using namespace sluice::standin;

TEST_CASE("the SPDY/3 dictionary is the spec's 1423 bytes") {
  const auto& d = spdy3_dictionary();
  CHECK(d.size() == 1423);
  CHECK(d.substr(0, 11) == std::string("\0\0\0\x07options", 11));
  CHECK(d.substr(d.size() - 7) == ",enq=0.");  // the last bytes of the spec's table
  // zlib names a preset dictionary by its Adler-32; this value was checked against kubectl's own
  // SPDY client (port-forward works only when both sides agree on every byte).
  CHECK(adler32(1, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())) == 0xe3c6a7c2u);
}

TEST_CASE("header blocks round-trip and names are lower-cased") {
  SpdyHeaders in = {{"StreamType", "data"}, {"port", "8080"}, {"requestID", "0"}};
  SpdyHeaders out;
  REQUIRE(decode_header_block(encode_header_block(in), out));
  REQUIRE(out.size() == 3);
  CHECK(header_value(out, "streamtype") == "data");
  CHECK(header_value(out, "port") == "8080");
  CHECK(header_value(out, "requestid") == "0");
  SpdyHeaders bad;
  CHECK_FALSE(decode_header_block(std::string("\0\0\0\x05", 4), bad));
}
