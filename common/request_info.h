#pragma once
// What a Kubernetes API request asks for, derived exactly as kube-apiserver's RequestInfo resolver
// does (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go), plus the one deliberate difference
// of KEP-4006: pods/exec, pods/attach and pods/portforward are `create` whatever the HTTP method.
// Pure code: no I/O, no globals. Policy, audit and approval all read this one result.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::common {

// A query string decoded as Go's url.ParseQuery does: '&'-separated, '+' is a space, %XX escapes.
// Pairs keep their order; a key may repeat.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// %XX-decodes `in`; with plus_as_space, '+' becomes ' ' (query strings, not paths).
// nullopt on a malformed escape ("%", "%4", "%zz").
std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space);

// %XX-encodes everything but RFC 3986's unreserved characters (letters, digits, - _ . ~).
std::string percent_encode(std::string_view in);

// Decodes a raw query (without '?'). A pair with a malformed escape, or containing ';', is skipped,
// as Go does; `ok` turns false when that happened.
struct DecodedQuery {
  QueryParams params;
  bool ok = true;
};
DecodedQuery decode_query(std::string_view raw);

// The first value of `key`, if present.
std::optional<std::string> query_value(const QueryParams& params, std::string_view key);

struct RequestInfo {
  bool is_resource_request = false;
  std::string path;  // decoded path, without the query
  std::string verb;  // get list watch create update patch delete deletecollection proxy; else the lower-cased method
  std::string api_prefix;  // "api" or "apis"
  std::string api_group;   // "" for the core group
  std::string api_version;
  std::string namespace_name;
  std::string resource;
  std::string subresource;
  std::string name;
  std::vector<std::string> parts;  // resource/name/subresource/... as the resolver leaves them
  bool dry_run = false;            // dryRun=All
  std::string field_manager;
  std::string label_selector;
  std::string field_selector;

  // "pods/exec", or just "pods" when there is no subresource.
  std::string resource_with_subresource() const;
};

struct Classification {
  RequestInfo info;
  std::string error;  // non-empty: the request is refused with `code` and `reason`; nothing is forwarded
  int code = 400;
  std::string reason = "BadRequest";  // metav1.StatusReason: BadRequest, Invalid, MethodNotAllowed
  // For 422: the field cause kube-apiserver names (FieldValueNotSupported on dryRun).
  std::string cause_reason, cause_field;
  bool ok() const { return error.empty(); }
};

// Query parameters a request may repeat: exec's `command` and port-forward's `ports` are lists.
// Every other key is read once by the gateway, so a second value (that a hop might read instead)
// is refused.
bool query_key_may_repeat(std::string_view key);

// method: the HTTP method as sent ("GET"); target: the request-target ("/api/v1/pods?watch=1").
// Refused (never guessed): malformed paths and queries, control characters before or after
// %-decoding, repeated query keys, a dryRun other than All (422 as kube-apiserver answers), and
// any method but GET/HEAD under the legacy /watch/ and /proxy/ prefixes (405).
Classification classify_request(std::string_view method, std::string_view target);

}  // namespace sluice::common
