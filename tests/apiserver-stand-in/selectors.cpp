#include "selectors.h"

#include <sstream>

namespace sluice::standin {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits on commas that are not inside parentheses ("a in (x,y),b=c").
std::vector<std::string> split_terms(const std::string& text) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty() || !out.empty()) out.push_back(trim(cur));
  return out;
}

std::optional<Selector> parse(const std::string& text, bool allow_sets, std::string& error) {
  Selector sel;
  if (trim(text).empty()) return sel;
  for (const auto& term : split_terms(text)) {
    if (term.empty()) {
      error = "empty term in selector \"" + text + "\"";
      return std::nullopt;
    }
    Requirement r;
    if (auto p = term.find("!="); p != std::string::npos) {
      r.key = trim(term.substr(0, p));
      r.op = Requirement::Op::NotEquals;
      r.values = {trim(term.substr(p + 2))};
    } else if (auto p2 = term.find("=="); p2 != std::string::npos) {
      r.key = trim(term.substr(0, p2));
      r.values = {trim(term.substr(p2 + 2))};
    } else if (auto p3 = term.find('='); p3 != std::string::npos) {
      r.key = trim(term.substr(0, p3));
      r.values = {trim(term.substr(p3 + 1))};
    } else if (allow_sets && (term.find(" in ") != std::string::npos || term.find(" notin ") != std::string::npos)) {
      bool notin = term.find(" notin ") != std::string::npos;
      auto kw = term.find(notin ? " notin " : " in ");
      r.key = trim(term.substr(0, kw));
      r.op = notin ? Requirement::Op::NotIn : Requirement::Op::In;
      auto open = term.find('(', kw), close = term.rfind(')');
      if (open == std::string::npos || close == std::string::npos || close < open) {
        error = "set-based requirement \"" + term + "\" needs a list in parentheses";
        return std::nullopt;
      }
      std::stringstream vs(term.substr(open + 1, close - open - 1));
      for (std::string v; std::getline(vs, v, ',');) r.values.push_back(trim(v));
    } else if (allow_sets && term[0] == '!') {
      r.key = trim(term.substr(1));
      r.op = Requirement::Op::DoesNotExist;
    } else if (allow_sets) {
      r.key = term;
      r.op = Requirement::Op::Exists;
    } else {
      error = "invalid selector: '" + text + "'; can't understand '" + term + "'";
      return std::nullopt;
    }
    if (r.key.empty()) {
      error = "selector term \"" + term + "\" has no key";
      return std::nullopt;
    }
    sel.requirements.push_back(std::move(r));
  }
  return sel;
}

bool satisfies(const Requirement& r, const std::optional<std::string>& value) {
  switch (r.op) {
    case Requirement::Op::Equals: return value && *value == r.values[0];
    case Requirement::Op::NotEquals: return !value || *value != r.values[0];
    case Requirement::Op::In:
      if (!value) return false;
      for (const auto& v : r.values) if (v == *value) return true;
      return false;
    case Requirement::Op::NotIn:
      if (!value) return true;
      for (const auto& v : r.values) if (v == *value) return false;
      return true;
    case Requirement::Op::Exists: return value.has_value();
    case Requirement::Op::DoesNotExist: return !value.has_value();
  }
  return false;
}

}  // namespace

std::optional<Selector> parse_label_selector(const std::string& text, std::string& error) {
  return parse(text, true, error);
}
std::optional<Selector> parse_field_selector(const std::string& text, std::string& error) {
  return parse(text, false, error);
}

bool matches_labels(const Selector& s, const nlohmann::json& object) {
  const nlohmann::json* labels = nullptr;
  if (auto m = object.find("metadata"); m != object.end())
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = &*l;
  for (const auto& r : s.requirements) {
    std::optional<std::string> v;
    if (labels)
      if (auto it = labels->find(r.key); it != labels->end() && it->is_string()) v = it->get<std::string>();
    if (!satisfies(r, v)) return false;
  }
  return true;
}

bool matches_fields(const Selector& s, const nlohmann::json& object) {
  for (const auto& r : s.requirements) {
    const nlohmann::json* cur = &object;
    std::stringstream parts(r.key);
    for (std::string part; std::getline(parts, part, '.');) {
      if (!cur->is_object() || !cur->contains(part)) {
        cur = nullptr;
        break;
      }
      cur = &(*cur)[part];
    }
    std::optional<std::string> v;
    // A field that is absent compares as the empty string, as the API server's field sets do.
    if (!cur || cur->is_null()) v = "";
    else if (cur->is_string()) v = cur->get<std::string>();
    else v = cur->dump();
    if (!satisfies(r, v)) return false;
  }
  return true;
}

}  // namespace sluice::standin
