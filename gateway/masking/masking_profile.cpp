#include "gateway/masking/masking_profile.h"

#include <algorithm>

namespace sluice::gateway::masking {
namespace {

struct BuiltinDetector {
  const char* name;
  const char* pattern;
};

// Each pattern bounds its repetitions, so a partial match at the end of a chunk (held back until
// the next chunk decides it) never grows without limit.
constexpr BuiltinDetector kBuiltins[] = {
    // PEM private keys of every kind (RSA, EC, OPENSSH, ENCRYPTED, PKCS#8); also inside JSON
    // strings, where the newlines are "\n" escapes. The markers stay visible, the key does not.
    {"private-key",
     R"re(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----([\s\S]{1,16384}?)-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)re"},
    {"aws-access-key-id", R"re(\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})(?![A-Z0-9]))re"},
    {"aws-secret-access-key",
     R"re((?i:aws_?secret_?access_?key|secret_?access_?key)["']?\s{0,8}[:=]\s{0,8}["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=]))re"},
    // A service-account key file's private_key is a PEM key (above); its id names the key.
    {"gcp-service-account-key", R"re("private_key_id"\s{0,8}:\s{0,8}"([a-f0-9]{40})")re"},
    {"jwt", R"re(\b(eyJ[A-Za-z0-9_-]{5,4096}\.eyJ[A-Za-z0-9_-]{5,8192}\.[A-Za-z0-9_-]{10,1024}))re"},
    {"password-assignment",
     R"re((?i:\b(?:password|passwd|pwd|secret|token|api[_-]?key))["']?\s{0,8}[:=]\s{0,8}("[^"\r\n]{1,256}"|'[^'\r\n]{1,256}'|[^\s"',;]{1,256}))re"},
};

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::vector<PathStep>> parse_pointer(const std::string& path, std::string& error) {
  std::vector<PathStep> steps;
  std::size_t pos = 1;
  while (true) {
    const auto slash = path.find('/', pos);
    std::string token = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    std::string key;
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] != '~') {
        key += token[i];
        continue;
      }
      if (i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
        key += token[i + 1] == '0' ? '~' : '/';
        ++i;
        continue;
      }
      error = "'" + path + "': '~' must be followed by 0 or 1 in a JSON pointer";
      return std::nullopt;
    }
    PathStep s;
    if (all_digits(key) && key.size() < 10) {
      s.kind = PathStep::Kind::index;
      s.index = std::stoul(key);
    }
    s.pattern = key;  // a digit token also names a member of an object
    steps.push_back(std::move(s));
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return steps;
}

}  // namespace

bool MaskingProfile::has_fields_for(const std::string& api_group, const std::string& resource) const {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const FieldRule& f) { return f.api_group == api_group && f.resource == resource; });
}

std::optional<std::vector<PathStep>> parse_field_path(const std::string& path, std::string& error) {
  if (path.empty()) {
    error = "a field path must not be empty";
    return std::nullopt;
  }
  if (path[0] == '/') return parse_pointer(path, error);
  std::vector<PathStep> steps;
  std::size_t i = 0;
  while (i <= path.size()) {
    const auto steps_before = steps.size();
    std::string key;
    while (i < path.size() && path[i] != '.' && path[i] != '[') key += path[i++];
    if (!key.empty()) steps.push_back({PathStep::Kind::member, key, {}, 0});
    while (i < path.size() && path[i] == '[') {
      const auto close = path.find(']', i);
      if (close == std::string::npos) {
        error = "'" + path + "': '[' without ']'";
        return std::nullopt;
      }
      const std::string inside = path.substr(i + 1, close - i - 1);
      if (inside == "*") {
        steps.push_back({PathStep::Kind::each_element, {}, {}, 0});
      } else if (const auto eq = inside.find('='); eq != std::string::npos && eq > 0) {
        steps.push_back({PathStep::Kind::element_where, inside.substr(eq + 1), inside.substr(0, eq), 0});
      } else if (all_digits(inside) && inside.size() < 10) {
        steps.push_back({PathStep::Kind::index, {}, {}, std::stoul(inside)});
      } else {
        error = "'" + path + "': write [*], [N] or [field=pattern], not [" + inside + "]";
        return std::nullopt;
      }
      i = close + 1;
    }
    if (steps.size() == steps_before) {
      error = "'" + path + "' has an empty step at position " + std::to_string(i + 1);
      return std::nullopt;
    }
    if (i >= path.size()) break;
    if (path[i] != '.') {
      error = "'" + path + "': unexpected '" + std::string(1, path[i]) + "' at position " + std::to_string(i + 1);
      return std::nullopt;
    }
    ++i;
    if (i == path.size()) {
      error = "'" + path + "' ends with '.'";
      return std::nullopt;
    }
  }
  if (steps.empty()) {
    error = "'" + path + "' names no field";
    return std::nullopt;
  }
  return steps;
}

std::optional<Detector> builtin_detector(const std::string& name) {
  for (const auto& b : kBuiltins)
    if (name == b.name) return Detector{b.name, boost::regex(b.pattern, boost::regex::perl)};
  return std::nullopt;
}

std::vector<std::string> builtin_detector_names() {
  std::vector<std::string> out;
  for (const auto& b : kBuiltins) out.emplace_back(b.name);
  return out;
}

std::shared_ptr<const MaskingProfile> default_profile() {
  static const auto profile = [] {
    auto p = std::make_shared<MaskingProfile>();
    p->name = "default";
    for (const auto& b : kBuiltins) p->detectors.push_back(*builtin_detector(b.name));
    return std::shared_ptr<const MaskingProfile>(std::move(p));
  }();
  return profile;
}

}  // namespace sluice::gateway::masking
