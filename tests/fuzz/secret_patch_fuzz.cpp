// libFuzzer target: a JSON Patch body against a Secret. Whatever patch the guard
// (secret_patch_guard.h) lets through, applied as the API server would (RFC 6902, nlohmann's
// implementation, as the stand-in applies it), the masked answer carries the Secret's value in no
// form anywhere: not raw, not base64, not inside a longer string.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/base64.h"
#include "common/request_info.h"
#include "gateway/masking/secret_masker.h"
#include "gateway/masking/secret_patch_guard.h"

using namespace sluice::gateway::masking;
using nlohmann::json;

namespace {

constexpr const char* kValue = "correct-horse-battery";  // what must never show

void no_value(const json& v, const std::string& b64) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.find(kValue) != std::string::npos || s.find(b64) != std::string::npos) std::abort();
  } else if (v.is_structured()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (v.is_object() && (it.key().find(kValue) != std::string::npos)) {
        // a key is not masked in place; its value is
        if (it.value().is_string() && it.value() != kMaskedText) std::abort();
        continue;
      }
      no_value(it.value(), b64);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const auto info = sluice::common::classify_request("PATCH", "/api/v1/namespaces/shop/secrets/db").info;
  if (refuse_secret_patch(info, "application/json-patch+json", body)) return 0;
  const auto patch = json::parse(body, nullptr, false);
  if (!patch.is_array()) return 0;
  const std::string b64 = sluice::common::base64_encode(kValue);
  json secret = {{"apiVersion", "v1"}, {"kind", "Secret"},
                 {"metadata", {{"name", "db"}, {"namespace", "shop"}, {"annotations", {{"a", "b"}}}}},
                 {"data", {{"password", b64}}}, {"type", "Opaque"}};
  try {
    secret = secret.patch(patch);
  } catch (const std::exception&) {
    return 0;  // the API server refuses such a patch: nothing comes back
  }
  MaskScope scope;
  scope.secrets = true;
  scope.resource = "secrets";
  mask_document(secret, scope);
  no_value(secret, b64);
  return 0;
}
