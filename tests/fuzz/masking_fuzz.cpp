// libFuzzer target for the streaming JSON masker, as a response about Secrets. The first byte picks
// the size of the pieces the rest arrives in. Beyond "never crashes": the pieces never change the
// result, valid JSON comes out as valid JSON, and no `data` or `stringData` value survives in it
// (nor in the last-applied-configuration annotation) — only the masks.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/masking/json_stream_masker.h"

using namespace sluice::gateway::masking;
using nlohmann::json;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool run(std::string_view body, std::size_t piece, std::string& out) {
  MaskScope scope;
  scope.secrets = true;
  scope.resource = "secrets";
  JsonStreamMasker m(scope);
  for (std::size_t at = 0; at < body.size(); at += piece)
    if (!m.feed(body.substr(at, piece), out)) return false;
  return m.finish(out);
}

void no_secret_values(const json& v) {
  if (v.is_array()) {
    for (const auto& e : v) no_secret_values(e);
    return;
  }
  if (!v.is_object()) return;
  if (auto d = v.find("data"); d != v.end() && !d->is_null()) {
    if (d->is_object()) {
      for (const auto& x : *d) require(x == kMaskedBase64);
    } else {
      require(*d == kMaskedBase64);
    }
  }
  if (auto d = v.find("stringData"); d != v.end() && !d->is_null()) {
    if (d->is_object()) {
      for (const auto& x : *d) require(x == kMaskedText);
    } else {
      require(*d == kMaskedText);
    }
  }
  if (auto md = v.find("metadata"); md != v.end() && md->is_object())
    if (auto an = md->find("annotations"); an != md->end() && an->is_object())
      if (auto la = an->find(kLastAppliedAnnotation); la != an->end() && *la != kMaskedText) {
        require(la->is_string());
        no_secret_values(json::parse(la->get<std::string>()));  // masked ones were re-written as JSON
      }
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it.key() != "data" && it.key() != "stringData") no_secret_values(it.value());  // checked above
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string whole, pieces;
  const bool ok_whole = run(body, body.size() + 1, whole);
  const bool ok_pieces = run(body, piece, pieces);
  require(ok_whole == ok_pieces);
  if (!ok_whole) return 0;
  require(whole == pieces);
  if (!json::accept(body)) return 0;
  // One value in, one value out (and a newline).
  const json out = json::parse(whole, nullptr, false);
  require(!out.is_discarded());
  no_secret_values(out);
  return 0;
}
