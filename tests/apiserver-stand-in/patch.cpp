#include "patch.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "common/base64.h"

namespace sluice::standin {
namespace {

bool is_directive(const std::string& key) {
  return key == "$patch" || key == "$retainKeys" || key.rfind("$setElementOrder/", 0) == 0 ||
         key.rfind("$deleteFromPrimitiveList/", 0) == 0;
}

// Primitive lists whose patch strategy is "merge" in the built-in types.
bool is_merged_primitive_list(const std::string& field) { return field == "finalizers"; }

void merge_list(nlohmann::json& target, const nlohmann::json& patch, const std::string& field) {
  if (!target.is_array()) target = nlohmann::json::array();
  if (patch.empty()) {
    target = nlohmann::json::array();
    return;
  }
  if (!patch.front().is_object()) {
    if (!is_merged_primitive_list(field)) {
      target = patch;
      return;
    }
    for (const auto& v : patch)
      if (std::find(target.begin(), target.end(), v) == target.end()) target.push_back(v);
    return;
  }
  const std::string key = merge_key_for(field, patch.front());
  if (key.empty()) {
    target = strip_directives(patch);
    return;
  }
  for (const auto& elem : patch) {
    if (elem.contains("$patch") && elem["$patch"] == "replace") {
      target = nlohmann::json::array();
      continue;
    }
    auto it = std::find_if(target.begin(), target.end(), [&](const nlohmann::json& t) {
      return t.is_object() && elem.contains(key) && t.contains(key) && t[key] == elem[key];
    });
    if (elem.contains("$patch") && elem["$patch"] == "delete") {
      if (it != target.end()) target.erase(it);
      continue;
    }
    if (it != target.end()) strategic_merge(*it, elem);
    else target.push_back(strip_directives(elem));
  }
}

// Keys may hold '.', '[' or ']' (annotation keys do): those are escaped with a backslash.
std::string escape_key(const std::string& k) {
  std::string out;
  for (char c : k) {
    if (c == '.' || c == '[' || c == ']' || c == '=' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

struct Segment {
  bool keyed = false;  // a list element selected by merge key
  std::string name;    // map key, or the merge key's name
  std::string value;   // the merge key's value
};

// Splits ".a.b\.c[name=x].d" into segments, undoing the escapes.
std::vector<Segment> split_field_path(const std::string& path) {
  std::vector<Segment> out;
  std::size_t i = 0;
  auto read_until = [&](const std::string& stops) {
    std::string tok;
    while (i < path.size() && stops.find(path[i]) == std::string::npos) {
      if (path[i] == '\\' && i + 1 < path.size()) ++i;
      tok += path[i++];
    }
    return tok;
  };
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
      out.push_back({false, read_until(".["), ""});
    } else if (path[i] == '[') {
      ++i;
      Segment seg{true, read_until("="), ""};
      if (i < path.size()) ++i;
      seg.value = read_until("]");
      if (i < path.size()) ++i;
      out.push_back(std::move(seg));
    } else {
      break;
    }
  }
  return out;
}

std::string key_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void collect_fields(const nlohmann::json& value, const std::string& prefix, FieldSet& out, bool top) {
  if (value.is_object()) {
    if (value.empty() && !top) {
      out.insert(prefix);
      return;
    }
    for (const auto& [k, v] : value.items()) {
      if (top && (k == "apiVersion" || k == "kind" || k == "status")) continue;
      if (prefix == ".metadata" && k != "labels" && k != "annotations" && k != "ownerReferences" &&
          k != "finalizers")
        continue;
      collect_fields(v, prefix + "." + escape_key(k), out, false);
    }
    return;
  }
  if (value.is_array() && !value.empty() && value.front().is_object()) {
    const auto segs = split_field_path(prefix);
    const std::string last = segs.empty() ? "" : segs.back().name;
    const std::string key = merge_key_for(last, value.front());
    if (!key.empty()) {
      for (const auto& elem : value) {
        if (!elem.contains(key)) continue;
        const auto& kv = elem[key];
        std::string id = prefix + "[" + escape_key(key) + "=" + escape_key(key_text(kv)) + "]";
        FieldSet inner;
        collect_fields(elem, id, inner, false);
        out.insert(inner.begin(), inner.end());
      }
      return;
    }
  }
  out.insert(prefix);
}

// YAML 1.1 as go-yaml v2 resolves it (kube-apiserver reads YAML through sigs.k8s.io/yaml on it):
// y/yes/on and n/no/off are booleans, !!binary is decoded, merge keys (<<) merge.
constexpr const char* kTag = "tag:yaml.org,2002:";

bool one_of(const std::string& s, std::initializer_list<const char*> words) {
  for (const char* w : words)
    if (s == w) return true;
  return false;
}

nlohmann::json plain_scalar(const std::string& s) {
  if (one_of(s, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (one_of(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) return true;
  if (one_of(s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) return false;
  std::string digits;
  for (char c : s)
    if (c != '_') digits += c;  // YAML 1.1 allows 1_000
  char* end = nullptr;
  const bool hex = digits.size() > 2 && (digits.rfind("0x", 0) == 0 || digits.rfind("-0x", 0) == 0);
  long long i = std::strtoll(digits.c_str(), &end, hex ? 16 : 10);
  if (end && *end == '\0' && end != digits.c_str()) return i;
  if (one_of(s, {".inf", ".Inf", ".INF", "+.inf"})) return std::numeric_limits<double>::infinity();
  double d = std::strtod(digits.c_str(), &end);
  if (end && *end == '\0' && end != digits.c_str() && digits.find_first_of("0123456789") != std::string::npos)
    return d;
  return s;
}

nlohmann::json scalar_from_yaml(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  const std::string& tag = n.Tag();
  if (tag == "!") return s;  // quoted: always a string
  if (tag.rfind(kTag, 0) == 0) {
    const std::string t = tag.substr(std::strlen(kTag));
    if (t == "str") return s;
    if (t == "binary") {
      std::string compact;
      for (char c : s)
        if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
      auto decoded = common::base64_decode(compact);
      if (!decoded) throw std::runtime_error("!!binary value is not base64");
      return *decoded;
    }
    if (t == "null") return nullptr;
  }
  return plain_scalar(s);
}

nlohmann::json from_yaml(const YAML::Node& n);

// `<<: *base` or `<<: [*a, *b]`: the maps' keys, for those the map does not set itself.
void merge_into(nlohmann::json& o, const YAML::Node& merged) {
  auto add = [&o](const YAML::Node& m) {
    if (!m.IsMap()) throw std::runtime_error("map merge requires map or sequence of maps as the value");
    const nlohmann::json base = from_yaml(m);  // named: items() of a temporary dangles in range-for
    for (const auto& [k, v] : base.items())
      if (!o.contains(k)) o[k] = v;
  };
  if (merged.IsSequence()) {
    for (const auto& m : merged) add(m);
  } else {
    add(merged);
  }
}

nlohmann::json from_yaml(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      std::vector<YAML::Node> merges;
      for (const auto& kv : n) {
        const bool merge_key = kv.first.IsScalar() && kv.first.Scalar() == "<<" && kv.first.Tag() != "!";
        if (merge_key) merges.push_back(kv.second);
        else o[kv.first.as<std::string>()] = from_yaml(kv.second);
      }
      for (const auto& m : merges) merge_into(o, m);
      return o;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : n) a.push_back(from_yaml(e));
      return a;
    }
    case YAML::NodeType::Scalar: return scalar_from_yaml(n);
    default: return nullptr;
  }
}

}  // namespace

std::string merge_key_for(const std::string& field, const nlohmann::json& sample) {
  if (field == "containers" || field == "initContainers" || field == "ephemeralContainers" ||
      field == "volumes" || field == "env" || field == "imagePullSecrets" || field == "resourceClaims")
    return "name";
  if (field == "ports") return sample.contains("containerPort") ? "containerPort" : "port";
  if (field == "volumeMounts") return "mountPath";
  if (field == "volumeDevices") return "devicePath";
  if (field == "conditions") return "type";
  if (field == "ownerReferences") return "uid";
  if (field == "hostAliases") return "ip";
  if (field == "topologySpreadConstraints") return "topologyKey";
  return "";
}

nlohmann::json strip_directives(const nlohmann::json& value) {
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : value.items())
      if (!is_directive(k)) out[k] = strip_directives(v);
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(strip_directives(v));
    return out;
  }
  return value;
}

void strategic_merge(nlohmann::json& target, const nlohmann::json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (patch.contains("$patch") && patch["$patch"] == "replace") {
    target = strip_directives(patch);
    return;
  }
  if (!target.is_object()) target = nlohmann::json::object();
  for (const auto& [k, v] : patch.items()) {
    if (k.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      auto field = k.substr(std::string("$deleteFromPrimitiveList/").size());
      if (target.contains(field) && target[field].is_array() && v.is_array()) {
        auto& list = target[field];
        for (const auto& del : v) list.erase(std::remove(list.begin(), list.end(), del), list.end());
      }
      continue;
    }
    if (is_directive(k)) continue;
    if (v.is_null()) {
      target.erase(k);
    } else if (v.is_object()) {
      if (v.contains("$patch") && v["$patch"] == "delete") target.erase(k);
      else strategic_merge(target[k], v);
    } else if (v.is_array()) {
      merge_list(target[k], v, k);
    } else {
      target[k] = v;
    }
  }
  if (patch.contains("$retainKeys") && patch["$retainKeys"].is_array()) {
    const auto& keep = patch["$retainKeys"];
    for (auto it = target.begin(); it != target.end();) {
      if (std::find(keep.begin(), keep.end(), it.key()) == keep.end()) it = target.erase(it);
      else ++it;
    }
  }
}

FieldSet field_set_of(const nlohmann::json& object) {
  FieldSet out;
  collect_fields(object, "", out, true);
  return out;
}

nlohmann::json fields_v1(const nlohmann::json& object) { return fields_v1_from_set(field_set_of(object)); }

nlohmann::json fields_v1_from_set(const FieldSet& fields) {
  // The structured form kube-apiserver stores ("f:spec": {"f:replicas": {}}, "k:{...}").
  nlohmann::json root = nlohmann::json::object();
  for (const auto& path : fields) {
    nlohmann::json* cur = &root;
    for (const auto& seg : split_field_path(path)) {
      if (!seg.keyed) {
        cur = &(*cur)["f:" + seg.name];
      } else {
        nlohmann::json k = {{seg.name, seg.value}};
        if (!seg.value.empty() && seg.value.find_first_not_of("0123456789") == std::string::npos)
          k[seg.name] = std::strtoll(seg.value.c_str(), nullptr, 10);
        cur = &(*cur)["k:" + k.dump()];
        if (!cur->is_object()) *cur = nlohmann::json::object();
        (*cur)["."] = nlohmann::json::object();
      }
      if (!cur->is_object()) *cur = nlohmann::json::object();
    }
  }
  return root;
}

const nlohmann::json* value_at(const nlohmann::json& object, const std::string& path) {
  const nlohmann::json* cur = &object;
  for (const auto& seg : split_field_path(path)) {
    if (!seg.keyed) {
      if (!cur->is_object() || !cur->contains(seg.name)) return nullptr;
      cur = &(*cur)[seg.name];
      continue;
    }
    if (!cur->is_array()) return nullptr;
    const nlohmann::json* found = nullptr;
    for (const auto& e : *cur)
      if (e.is_object() && e.contains(seg.name) && key_text(e[seg.name]) == seg.value) found = &e;
    if (!found) return nullptr;
    cur = found;
  }
  return cur;
}

namespace {
void collect_v1(const nlohmann::json& node, const std::string& prefix, FieldSet& out) {
  bool has_child = false;
  for (const auto& [k, v] : node.items()) {
    if (k == ".") continue;
    has_child = true;
    if (k.rfind("f:", 0) == 0) {
      collect_v1(v, prefix + "." + escape_key(k.substr(2)), out);
    } else if (k.rfind("k:", 0) == 0) {
      auto key = nlohmann::json::parse(k.substr(2), nullptr, false);
      if (!key.is_object() || key.empty()) continue;
      const auto& [kk, kv] = *key.items().begin();
      collect_v1(v, prefix + "[" + escape_key(kk) + "=" + escape_key(key_text(kv)) + "]", out);
    }
  }
  if (!has_child && !prefix.empty()) out.insert(prefix);
}
}  // namespace

FieldSet field_set_from_v1(const nlohmann::json& fields_v1) {
  FieldSet out;
  if (fields_v1.is_object()) collect_v1(fields_v1, "", out);
  return out;
}

void erase_at(nlohmann::json& object, const std::string& path) {
  auto segs = split_field_path(path);
  if (segs.empty()) return;
  nlohmann::json* cur = &object;
  for (std::size_t i = 0; i + 1 < segs.size(); ++i) {
    const auto& seg = segs[i];
    if (!seg.keyed) {
      if (!cur->is_object() || !cur->contains(seg.name)) return;
      cur = &(*cur)[seg.name];
      continue;
    }
    if (!cur->is_array()) return;
    nlohmann::json* found = nullptr;
    for (auto& e : *cur)
      if (e.is_object() && e.contains(seg.name) && key_text(e[seg.name]) == seg.value) found = &e;
    if (!found) return;
    cur = found;
  }
  const auto& last = segs.back();
  if (!last.keyed) {
    if (cur->is_object()) cur->erase(last.name);
    return;
  }
  if (!cur->is_array()) return;
  for (auto it = cur->begin(); it != cur->end(); ++it)
    if (it->is_object() && it->contains(last.name) && key_text((*it)[last.name]) == last.value) {
      cur->erase(it);
      return;
    }
}

nlohmann::json yaml_to_json(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_discarded()) return parsed;
  return from_yaml(YAML::Load(text));
}

}  // namespace sluice::standin
