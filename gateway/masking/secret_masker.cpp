#include "gateway/masking/secret_masker.h"

#include <string>
#include <vector>

#include "common/base64.h"
#include "common/glob.h"

namespace sluice::gateway::masking {
namespace {

template <class Json>
void mask_every_string(Json& v) {
  if (v.is_string()) {
    v = kMaskedText;
  } else if (v.is_object() || v.is_array()) {
    for (auto& child : v) mask_every_string(child);
  }
}

template <class Json>
void apply_path(Json& node, const std::vector<PathStep>& steps, std::size_t i) {
  if (i == steps.size()) return mask_every_string(node);
  const auto& step = steps[i];
  switch (step.kind) {
    case PathStep::Kind::member:
      if (node.is_object())
        for (auto it = node.begin(); it != node.end(); ++it)
          if (common::glob_match(step.pattern, it.key())) apply_path(it.value(), steps, i + 1);
      break;
    case PathStep::Kind::index:
      if (node.is_array() && step.index < node.size()) apply_path(node[step.index], steps, i + 1);
      else if (node.is_object())  // a JSON pointer's digits may name a member
        if (auto it = node.find(step.pattern); it != node.end()) apply_path(*it, steps, i + 1);
      break;
    case PathStep::Kind::each_element:
      if (node.is_array())
        for (auto& e : node) apply_path(e, steps, i + 1);
      break;
    case PathStep::Kind::element_where:
      if (node.is_array())
        for (auto& e : node) {
          if (!e.is_object()) continue;
          auto f = e.find(step.where_field);
          if (f != e.end() && f->is_string() && common::glob_match(step.pattern, f->template get_ref<const std::string&>()))
            apply_path(e, steps, i + 1);
        }
      break;
  }
}

template <class Json>
std::string kind_of(const Json& o) {
  auto k = o.find("kind");
  return k != o.end() && k->is_string() ? k->template get<std::string>() : std::string();
}

constexpr int kMaxAnnotationDepth = 256;

// Masks the manifest kubectl apply keeps in an annotation (values included) with `mask`; an
// annotation that cannot be read, or is nested deeper than any manifest, is masked whole.
template <class Json, class Mask>
void mask_last_applied(Json& o, Mask&& mask) {
  auto md = o.find("metadata");
  if (md == o.end() || !md->is_object()) return;
  auto an = md->find("annotations");
  if (an == md->end() || !an->is_object()) return;
  auto la = an->find(kLastAppliedAnnotation);
  if (la == an->end()) return;
  if (!la->is_string()) {
    *la = kMaskedText;
    return;
  }
  const auto& text = la->template get_ref<const std::string&>();
  bool too_deep = false;
  Json applied = Json::parse(
      text,
      [&too_deep](int depth, typename Json::parse_event_t, Json&) {
        if (depth > kMaxAnnotationDepth) too_deep = true;
        return true;
      },
      false);
  if (too_deep || applied.is_discarded() || !applied.is_object()) {
    *la = kMaskedText;
    return;
  }
  mask(applied);
  const bool newline = !text.empty() && text.back() == '\n';
  *la = applied.dump(-1, ' ', false, Json::error_handler_t::replace) + (newline ? "\n" : "");
}

template <class Json>
void mask_secret_fields(Json& o) {
  if (auto it = o.find("data"); it != o.end()) {
    if (it->is_object()) {
      for (auto& v : *it) v = kMaskedBase64;
    } else if (!it->is_null()) {
      *it = kMaskedBase64;
    }
  }
  if (auto it = o.find("stringData"); it != o.end()) {
    if (it->is_object()) {
      for (auto& v : *it) v = kMaskedText;
    } else if (!it->is_null()) {
      *it = kMaskedText;
    }
  }
}

// A Secret's values in every form a copy of them can take in the object: as stored (base64) and
// decoded for `data`, as written and encoded for `stringData`.
template <class Json>
std::vector<std::string> secret_values(const Json& o) {
  std::vector<std::string> out;
  auto add = [&out](std::string v) {
    if (!v.empty()) out.push_back(std::move(v));
  };
  if (auto it = o.find("data"); it != o.end() && it->is_object())
    for (const auto& v : *it) {
      if (!v.is_string()) continue;
      const auto& text = v.template get_ref<const std::string&>();
      if (text == kMaskedBase64) continue;
      add(text);
      add(common::base64_decode(text).value_or(""));
    }
  if (auto it = o.find("stringData"); it != o.end() && it->is_object())
    for (const auto& v : *it) {
      if (!v.is_string() || v.template get_ref<const std::string&>() == kMaskedText) continue;
      add(v.template get<std::string>());
      add(common::base64_encode(v.template get_ref<const std::string&>()));
    }
  return out;
}

// Values this short would match half the object by containment: only an equal string is masked.
constexpr std::size_t kContainmentMinBytes = 4;

bool leaks(const std::string& s, const std::vector<std::string>& values) {
  for (const auto& v : values) {
    if (s == v) return true;
    if (v.size() >= kContainmentMinBytes && s.find(v) != std::string::npos) return true;
  }
  return false;
}

template <class Json>
void mask_leaked_strings(Json& node, const std::vector<std::string>& values) {
  if (node.is_string()) {
    if (leaks(node.template get_ref<const std::string&>(), values)) node = kMaskedText;
  } else if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (leaks(it.key(), values)) {
        // A key cannot be masked in place without changing the object's shape: mask its value.
        mask_every_string(it.value());
        if (!it.value().is_string()) it.value() = kMaskedText;
      } else {
        mask_leaked_strings(it.value(), values);
      }
    }
  } else if (node.is_array()) {
    for (auto& child : node) mask_leaked_strings(child, values);
  }
}

// A JSON Patch `copy` (or any write the server computes) can put a value anywhere in the Secret:
// an annotation, a label, a managedFields entry. Every string of the Secret that equals or
// contains one of its values is masked, except the identity fields the server sets.
template <class Json>
void mask_copies_of_values(Json& secret, const std::vector<std::string>& values) {
  if (values.empty()) return;
  static const char* const kIdentity[] = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                                          "generateName", "selfLink", "deletionTimestamp"};
  for (auto it = secret.begin(); it != secret.end(); ++it) {
    const auto& key = it.key();
    if (key == "data" || key == "stringData" || key == "apiVersion" || key == "kind" || key == "type") continue;
    if (key == "metadata" && it.value().is_object()) {
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        bool identity = false;
        for (const char* k : kIdentity) identity = identity || m.key() == k;
        if (!identity) mask_leaked_strings(m.value(), values);
      }
      continue;
    }
    mask_leaked_strings(it.value(), values);
  }
}

// In a response about Secrets every object is one: `data` and `stringData` are masked at every
// level, whatever shape the response has (object, list, Table, watch event, partial metadata).
template <class Json>
void mask_secrets_everywhere(Json& node) {
  if (node.is_object()) {
    const auto values = secret_values(node);  // before they are masked
    mask_secret_fields(node);
    mask_last_applied(node, [](Json& applied) { mask_secrets_everywhere(applied); });
    mask_copies_of_values(node, values);
    for (auto it = node.begin(); it != node.end(); ++it)
      if (it.key() != "data" && it.key() != "stringData") mask_secrets_everywhere(it.value());  // masked above
  } else if (node.is_array()) {
    for (auto& child : node) mask_secrets_everywhere(child);
  }
}

// A TokenRequest's answer carries a bearer token for the service account: as good as a Secret.
template <class Json>
void mask_issued_token(Json& o) {
  auto status = o.find("status");
  if (status == o.end() || !status->is_object()) return;
  auto token = status->find("token");
  if (token != status->end() && token->is_string()) *token = kMaskedText;
}

template <class Json>
void mask_profile_fields(Json& o, const MaskScope& scope) {
  for (const auto& rule : scope.profile->fields)
    if (rule.api_group == scope.api_group && rule.resource == scope.resource) apply_path(o, rule.steps, 0);
}

// One object: a Secret found in a response about something else, and the profile's fields.
template <class Json>
void mask_object(Json& o, const MaskScope& scope) {
  if (!o.is_object()) return;
  if (!scope.reveal && kind_of(o) == "Secret") mask_secrets_everywhere(o);
  if (!scope.reveal && scope.token_requests && kind_of(o) == "TokenRequest") mask_issued_token(o);
  if (!scope.profile || !scope.profile->has_fields_for(scope.api_group, scope.resource)) return;
  mask_profile_fields(o, scope);
  mask_last_applied(o, [&scope](Json& applied) { mask_profile_fields(applied, scope); });
}

}  // namespace

template <class Json>
void mask_table_row(Json& row, const MaskScope& scope) {
  if (!row.is_object()) return;
  if (auto obj = row.find("object"); obj != row.end()) mask_document(*obj, scope);
}

template <class Json>
void mask_document(Json& doc, const MaskScope& scope) {
  if (!doc.is_object()) return;
  if (scope.secrets && !scope.reveal) {
    mask_secrets_everywhere(doc);
    if (!scope.profile || !scope.profile->has_fields_for(scope.api_group, scope.resource)) return;
  }
  auto items = doc.find("items");
  auto rows = doc.find("rows");
  auto type = doc.find("type");
  auto object = doc.find("object");
  if (items != doc.end() && items->is_array()) {
    for (auto& item : *items) mask_document(item, scope);
  } else if (rows != doc.end() && rows->is_array() && kind_of(doc) == "Table") {
    for (auto& row : *rows) mask_table_row(row, scope);
  } else if (type != doc.end() && type->is_string() && object != doc.end() && kind_of(doc).empty()) {
    mask_document(*object, scope);  // a watch event: {"type": "ADDED", "object": {...}}
  } else if (auto details = doc.find("details"); details != doc.end() && kind_of(doc) == "Status") {
    mask_document(*details, scope);
  }
  mask_object(doc, scope);
}

template void mask_document(nlohmann::json&, const MaskScope&);
template void mask_document(nlohmann::ordered_json&, const MaskScope&);
template void mask_table_row(nlohmann::ordered_json&, const MaskScope&);

}  // namespace sluice::gateway::masking
