// What a masking profile hides: fields of objects (by resource and path) and secrets found by regex
// detectors in exec/attach output and pod logs. Secret values are masked whatever the profile says;
// a profile adds to that. Profiles are named in the policy file (gateway/policy/README.md).
#pragma once
#include <boost/regex.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::gateway::masking {

// What replaces a masked value. Secret `data` values must stay valid base64 (kubectl decodes them
// for `describe`), so they get the base64 of the text mask; every masked value has the same length,
// so not even the size of a secret leaks.
inline constexpr const char* kMaskedText = "***MASKED***";
inline constexpr const char* kMaskedBase64 = "KioqTUFTS0VEKioq";  // base64 of kMaskedText

// One step of a field path. "data.*password*" is two member steps; "env[name=*PASS*]" a member step
// followed by an element step that keeps the array elements whose `name` matches.
struct PathStep {
  enum class Kind { member, each_element, element_where, index } kind = Kind::member;
  std::string pattern;      // member: a glob over the key; element_where: the glob over the value
  std::string where_field;  // element_where: the member of the element that is compared
  std::size_t index = 0;    // index: from a JSON pointer
};

struct FieldRule {
  std::string api_group;  // "" is the core group
  std::string resource;   // plural, as in the URL
  std::string path;       // as written, for messages
  std::vector<PathStep> steps;
};

struct Detector {
  std::string name;
  boost::regex pattern;  // a first capture group, when present, is what gets replaced
};

struct MaskingProfile {
  std::string name;
  std::vector<FieldRule> fields;
  std::vector<Detector> detectors;
  bool has_fields_for(const std::string& api_group, const std::string& resource) const;
};

// "data.*password*", "spec.containers[name=*db*].env[*].value", or a JSON pointer such as
// "/data/password". Returns nullopt and a sentence in `error` when the path does not parse.
std::optional<std::vector<PathStep>> parse_field_path(const std::string& path, std::string& error);

// The built-in detectors by name: private-key, aws-access-key-id, aws-secret-access-key,
// gcp-service-account-key, jwt, password-assignment. Unknown name: nullopt.
std::optional<Detector> builtin_detector(const std::string& name);
std::vector<std::string> builtin_detector_names();

// The profile in force when the policy names none: every built-in detector, no extra fields.
std::shared_ptr<const MaskingProfile> default_profile();

}  // namespace sluice::gateway::masking
