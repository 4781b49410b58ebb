#include "common/request_info.h"

#include <algorithm>
#include <cctype>

namespace sluice::common {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains(std::initializer_list<std::string_view> set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

// Go's strings.Split(strings.Trim(path, "/"), "/").
std::vector<std::string> split_path(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string> parts;
  if (path.empty()) return parts;
  for (;;) {
    auto slash = path.find('/');
    parts.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// fields.Selector.RequiresExactMatch("metadata.name") for the field-selector syntax
// ("a=b,c!=d", backslash escapes): the value of a `metadata.name=` or `metadata.name==` term.
std::optional<std::string> exact_name_from_field_selector(std::string_view selector) {
  std::vector<std::string> terms(1);
  for (size_t i = 0; i < selector.size(); ++i) {
    char c = selector[i];
    if (c == '\\' && i + 1 < selector.size()) {
      terms.back() += c;
      terms.back() += selector[++i];
    } else if (c == ',') {
      terms.emplace_back();
    } else {
      terms.back() += c;
    }
  }
  for (const auto& term : terms) {
    // Split at the first unescaped operator: != , == or =.
    for (size_t i = 0; i < term.size(); ++i) {
      if (term[i] == '\\') {
        ++i;
        continue;
      }
      if (term[i] != '=' && term[i] != '!') continue;
      if (term[i] == '!' && (i + 1 >= term.size() || term[i + 1] != '=')) continue;
      if (term[i] == '!') break;  // "!=" never requires an exact match
      std::string_view field(term.data(), i);
      size_t value_at = (i + 1 < term.size() && term[i + 1] == '=') ? i + 2 : i + 1;
      while (!field.empty() && field.back() == ' ') field.remove_suffix(1);
      while (!field.empty() && field.front() == ' ') field.remove_prefix(1);
      if (field != "metadata.name") break;
      std::string value;
      for (size_t j = value_at; j < term.size(); ++j) {
        if (term[j] == '\\' && j + 1 < term.size()) ++j;
        value += term[j];
      }
      return value;
    }
  }
  return std::nullopt;
}

// k8s.io/apimachinery/pkg/api/validation/path.IsValidPathSegmentName.
bool valid_path_segment_name(std::string_view name) {
  if (name == "." || name == "..") return false;
  return name.find('/') == std::string_view::npos && name.find('%') == std::string_view::npos;
}

}  // namespace

std::string percent_encode(std::string_view in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

DecodedQuery decode_query(std::string_view raw) {
  DecodedQuery result;
  while (!raw.empty()) {
    auto amp = raw.find('&');
    std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (pair.find(';') != std::string_view::npos) {
      result.ok = false;
      continue;
    }
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) {
      result.ok = false;
      continue;
    }
    result.params.emplace_back(std::move(*key), std::move(*value));
  }
  return result;
}

std::optional<std::string> query_value(const QueryParams& params, std::string_view key) {
  for (const auto& [k, v] : params)
    if (k == key) return v;
  return std::nullopt;
}

std::string RequestInfo::resource_with_subresource() const {
  return subresource.empty() ? resource : resource + "/" + subresource;
}

bool query_key_may_repeat(std::string_view key) { return key == "command" || key == "ports"; }

Classification classify_request(std::string_view method, std::string_view target) {
  Classification result;
  RequestInfo& info = result.info;
  info.verb = lower(method);

  if (!contains({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, method)) {
    // kube-apiserver routes no other method (go-restful answers 405); the verb it would give one
    // ("" for resources, the lower-cased method elsewhere, e.g. "watch") is nothing policy can judge.
    result.error = "the server does not allow the method " + std::string(method) +
                   ": use GET, HEAD, POST, PUT, PATCH or DELETE";
    result.code = 405;
    result.reason = "MethodNotAllowed";
    return result;
  }
  if (target.empty() || target.front() != '/') {
    result.error = "the request target must be a path starting with '/'";
    return result;
  }
  for (unsigned char c : target) {
    if (c < 0x20 || c == 0x7f) {
      result.error = "the request path contains a control character";
      return result;
    }
  }
  auto question = target.find('?');
  auto decoded_path = percent_decode(target.substr(0, question), false);
  if (!decoded_path) {
    result.error = "the request path has a malformed %-escape";
    return result;
  }
  info.path = std::move(*decoded_path);
  for (unsigned char c : info.path) {
    if (c < 0x20 || c == 0x7f) {
      result.error = "the request path contains a %-encoded control character";
      return result;
    }
  }
  QueryParams query;
  if (question != std::string_view::npos) {
    auto decoded = decode_query(target.substr(question + 1));
    if (!decoded.ok) {
      // Go skips such a pair; a hop that reads it otherwise would see another request.
      result.error = "the query string has a malformed %-escape or a ';'";
      return result;
    }
    query = std::move(decoded.params);
  }
  for (std::size_t i = 0; i < query.size(); ++i) {
    if (query_key_may_repeat(query[i].first)) continue;
    for (std::size_t j = i + 1; j < query.size(); ++j) {
      if (query[j].first == query[i].first) {
        result.error = "the query parameter '" + query[i].first +
                       "' is given more than once; send it once, so every hop reads the same value";
        return result;
      }
    }
  }

  std::vector<std::string> parts = split_path(info.path);
  // Deliberately stricter than kube-apiserver: empty, "." and ".." segments have no meaning in the
  // API, and a hop that normalises them would see another object than the one classified.
  for (const auto& part : parts) {
    if (part.empty() || part == "." || part == "..") {
      result.error = "the request path has an empty, '.' or '..' segment";
      return result;
    }
  }

  if (auto dry_run = query_value(query, "dryRun")) {
    // metav1 ValidateDryRun: the only value there is is All; anything else is not a dry run, and
    // must never be mistaken for one (or for a write) by any hop.
    if (*dry_run != "All") {
      result.error = "dryRun: Unsupported value: \"" + *dry_run + "\": supported values: \"All\"";
      result.code = 422;
      result.reason = "Invalid";
      result.cause_reason = "FieldValueNotSupported";
      result.cause_field = "dryRun";
      return result;
    }
    info.dry_run = true;
  }
  info.field_manager = query_value(query, "fieldManager").value_or("");
  info.label_selector = query_value(query, "labelSelector").value_or("");
  info.field_selector = query_value(query, "fieldSelector").value_or("");

  if (parts.size() < 3 || (parts[0] != "api" && parts[0] != "apis")) return result;  // non-resource
  info.api_prefix = parts[0];
  size_t at = 1;
  if (info.api_prefix == "apis") {
    if (parts.size() < 4) return result;  // /apis/<group>/<version>: discovery, non-resource
    info.api_group = parts[at++];
  }
  info.is_resource_request = true;
  info.api_version = parts[at++];
  std::vector<std::string> rest(parts.begin() + static_cast<std::ptrdiff_t>(at), parts.end());

  if (contains({"proxy", "watch"}, rest[0])) {  // legacy /watch/... and /proxy/... forms
    if (rest.size() < 2) {
      result.error = "cannot tell the resource from the path " + info.path;
      return result;
    }
    if (method != "GET" && method != "HEAD") {
      // kube-apiserver serves only reads under these prefixes; a write there is no watch.
      result.error = "the server does not allow this method on the requested resource: only GET and HEAD are "
                     "served under /" + rest[0] + "/";
      result.code = 405;
      result.reason = "MethodNotAllowed";
      return result;
    }
    info.verb = rest[0];
    rest.erase(rest.begin());
  } else if (method == "POST") {
    info.verb = "create";
  } else if (method == "GET" || method == "HEAD") {
    info.verb = "get";
  } else if (method == "PUT") {
    info.verb = "update";
  } else if (method == "PATCH") {
    info.verb = "patch";
  } else if (method == "DELETE") {
    info.verb = "delete";
  } else {
    info.verb = "";
  }

  if (rest[0] == "namespaces") {
    if (rest.size() > 1) {
      info.namespace_name = rest[1];
      // namespaces/<ns>/status and /finalize are subresources of the namespace itself.
      if (rest.size() > 2 && !contains({"status", "finalize"}, rest[2])) rest.erase(rest.begin(), rest.begin() + 2);
    }
  }
  // kube-apiserver serves /watch/ for collections and named objects only: a subresource there
  // (/watch/.../pods/x/exec) is a 404 upstream, and here no "watch of pods/exec" for policy to miss.
  if (info.verb == "watch" && rest.size() >= 3) {
    result.error = "the server could not find the requested resource: /watch/ serves collections and objects, not "
                   "subresources (" + rest[0] + "/" + rest[2] + ")";
    result.code = 404;
    result.reason = "NotFound";
    return result;
  }
  info.parts = rest;
  if (rest.size() >= 3 && info.verb != "proxy") info.subresource = rest[2];
  if (rest.size() >= 2) info.name = rest[1];
  info.resource = rest[0];

  if (info.name.empty() && info.verb == "get") {
    // Any watch value other than 0 or false (any case) is true: Convert_Slice_string_To_bool.
    auto watch = query_value(query, "watch");
    info.verb = (watch && !contains({"false", "0"}, lower(*watch))) ? "watch" : "list";
    if (auto name = exact_name_from_field_selector(info.field_selector); name && valid_path_segment_name(*name))
      info.name = *name;
  }
  if (info.name.empty() && info.verb == "delete") info.verb = "deletecollection";

  // KEP-4006: exec, attach and port-forward are authorised as `create` whether they arrive as a
  // WebSocket GET (kubectl >= 1.31) or an SPDY POST, so the choice of method never changes policy.
  if (info.api_group.empty() && info.resource == "pods" &&
      contains({"exec", "attach", "portforward"}, info.subresource) && contains({"get", "create"}, info.verb))
    info.verb = "create";
  return result;
}

}  // namespace sluice::common
