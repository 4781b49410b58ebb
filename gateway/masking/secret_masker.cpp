#include "gateway/masking/secret_masker.h"

#include "gateway/policy/glob.h"

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
          if (policy::glob_match(step.pattern, it.key())) apply_path(it.value(), steps, i + 1);
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
          if (f != e.end() && f->is_string() && policy::glob_match(step.pattern, f->template get_ref<const std::string&>()))
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

// In a response about Secrets every object is one: `data` and `stringData` are masked at every
// level, whatever shape the response has (object, list, Table, watch event, partial metadata).
template <class Json>
void mask_secrets_everywhere(Json& node) {
  if (node.is_object()) {
    mask_secret_fields(node);
    mask_last_applied(node, [](Json& applied) { mask_secrets_everywhere(applied); });
    for (auto it = node.begin(); it != node.end(); ++it)
      if (it.key() != "data" && it.key() != "stringData") mask_secrets_everywhere(it.value());  // masked above
  } else if (node.is_array()) {
    for (auto& child : node) mask_secrets_everywhere(child);
  }
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
