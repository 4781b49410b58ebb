#include "gateway/masking/secret_patch_guard.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <vector>

namespace sluice::gateway::masking {
namespace {

std::string media_type(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  t.erase(t.find_last_not_of(" \t") + 1);
  t.erase(0, t.find_first_not_of(" \t"));
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

// A JSON pointer's tokens as evanphx/json-patch (the API server's) reads them: split on '/', the
// first element dropped whatever it holds, ~1 and ~0 unescaped.
std::vector<std::string> pointer_tokens(const std::string& pointer) {
  std::vector<std::string> out;
  std::size_t at = pointer.find('/');
  if (at == std::string::npos) return out;
  while (at != std::string::npos) {
    const auto next = pointer.find('/', at + 1);
    std::string token = pointer.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    std::string plain;
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
        plain += token[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        plain += token[i];
      }
    }
    out.push_back(std::move(plain));
    at = next;
  }
  return out;
}

// Where a Secret's values are, or a value copied from there would show whole.
bool holds_values(const std::vector<std::string>& t) {
  if (t.empty()) return true;  // the whole object
  if (t[0] == "data" || t[0] == "stringData") return true;
  return t[0] == "metadata" && (t.size() == 1 || t[1] == "annotations");
}

}  // namespace

std::optional<std::string> refuse_secret_patch(const common::RequestInfo& info, std::string_view content_type,
                                               std::string_view body) {
  if (!info.api_group.empty() || info.resource != "secrets" || info.verb != "patch") return std::nullopt;
  if (media_type(content_type) != "application/json-patch+json") return std::nullopt;
  const auto patch = nlohmann::json::parse(body, nullptr, false);
  if (!patch.is_array()) return "the JSON Patch of a Secret could not be read as a JSON array of operations";
  for (const auto& op : patch) {
    if (!op.is_object()) return "the JSON Patch of a Secret has an operation that is not an object";
    const auto name = op.value("op", nlohmann::json()).is_string() ? op["op"].get<std::string>() : std::string();
    auto pointer = [&op](const char* key) {
      auto it = op.find(key);
      return it != op.end() && it->is_string() ? pointer_tokens(it->get<std::string>()) : std::vector<std::string>{};
    };
    if ((name == "copy" || name == "move") && holds_values(pointer("from")))
      return "a JSON Patch '" + name + "' from a Secret's data, stringData, metadata or annotations would put its "
             "value where masking cannot see it: Sluice refuses it; write the value you want with 'add' instead";
    if (name == "test" && holds_values(pointer("path")))
      return "a JSON Patch 'test' on a Secret's data, stringData, metadata or annotations would tell whether a "
             "guess of its value is right: Sluice refuses it";
  }
  return std::nullopt;
}

}  // namespace sluice::gateway::masking
