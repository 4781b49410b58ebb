// REST semantics of the stand-in: the verbs over the object store, as kube-apiserver's registry does them.
#include <boost/asio/steady_timer.hpp>
#include <openssl/rand.h>

#include "api_server.h"
#include "common/base64.h"
#include "common/k8s_status.h"
#include "common/token_compare.h"
#include "patch.h"
#include "protobuf_decoder.h"
#include "selectors.h"
#include "table.h"

namespace sluice::standin {
namespace {
using json = nlohmann::json;

bool wants_table(const HttpRequest& req) { return req.header("accept").find("as=Table") != std::string::npos; }
bool wants_partial(const HttpRequest& req) {
  return req.header("accept").find("as=PartialObjectMetadata") != std::string::npos;
}
bool is_dry_run(const HttpRequest& req) { return req.param("dryRun") == "All"; }



std::string field_manager(const HttpRequest& req) {
  std::string m = req.param("fieldManager");
  if (!m.empty()) return m;
  std::string ua = req.header("user-agent");
  return ua.empty() ? "unknown" : ua.substr(0, ua.find('/'));
}

std::string generate_suffix() {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char b[5];
  RAND_bytes(b, sizeof b);
  std::string s;
  for (unsigned char c : b) s += kAlphabet[c % (sizeof kAlphabet - 1)];
  return s;
}

json partial_metadata(const json& obj) {
  return {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", obj.value("metadata", json::object())}};
}

std::string encode_continue(const std::string& key, std::uint64_t rv) {
  return base64_encode(json{{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", key}}.dump());
}

std::optional<std::pair<std::string, std::uint64_t>> decode_continue(const std::string& token) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned val = 0;
  int bits = -8;
  for (char c : token) {
    if (c == '=') break;
    auto pos = kAlphabet.find(c);
    if (pos == std::string::npos) return std::nullopt;
    val = (val << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((val >> bits) & 0xff);
      bits -= 8;
    }
  }
  auto j = json::parse(out, nullptr, false);
  if (!j.is_object() || !j.contains("start") || !j.contains("rv")) return std::nullopt;
  return std::make_pair(j["start"].get<std::string>(), j["rv"].get<std::uint64_t>());
}

std::string object_key(const json& o) {
  const auto& md = o["metadata"];
  return md.value("namespace", std::string()) + "/" + md.value("name", std::string());
}

json scale_of(const json& obj) {
  std::string selector;
  const json match = obj["spec"].value("selector", json::object()).value("matchLabels", json::object());
  for (const auto& [k, v] : match.items())
    selector += (selector.empty() ? "" : ",") + k + "=" + v.get<std::string>();
  const auto& md = obj["metadata"];
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", {{"name", md["name"]}, {"namespace", md.value("namespace", "")}, {"uid", md["uid"]},
                        {"resourceVersion", md["resourceVersion"]}, {"creationTimestamp", md["creationTimestamp"]}}},
          {"spec", {{"replicas", obj["spec"].value("replicas", 1)}}},
          {"status", {{"replicas", obj.value("status", json::object()).value("replicas", 0)}, {"selector", selector}}}};
}

// Ownership bookkeeping of server-side apply, for every write (see patch.h for field paths).
void update_managed_fields(json& obj, const json* existing, const std::string& manager, const std::string& operation,
                           const json& touched, const std::string& api_version, const std::string& subresource) {
  json entries = existing ? existing->value("metadata", json::object()).value("managedFields", json::array()) : json::array();
  // A client that rewrites managedFields itself (kubectl migrating client-side-apply ownership to
  // server-side apply) gets exactly what it wrote, as from kube-apiserver.
  if (obj["metadata"].contains("managedFields") && obj["metadata"]["managedFields"].is_array() &&
      obj["metadata"]["managedFields"] != entries)
    return;
  const FieldSet claimed = field_set_of(touched);
  json out = json::array();
  FieldSet mine;
  for (const auto& e : entries) {
    FieldSet set = field_set_from_v1(e.value("fieldsV1", json::object()));
    if (e.value("manager", "") == manager && e.value("operation", "") == operation) {
      if (operation == "Update") mine = set;
      continue;
    }
    for (const auto& p : claimed) {
      const json* before = existing ? value_at(*existing, p) : nullptr;
      const json* after = value_at(obj, p);
      if (!before || !after || *before != *after) set.erase(p);
    }
    if (set.empty()) continue;
    json kept = e;
    kept["fieldsV1"] = fields_v1_from_set(set);
    out.push_back(kept);
  }
  mine.insert(claimed.begin(), claimed.end());
  if (!mine.empty()) {
    json entry = {{"manager", manager}, {"operation", operation}, {"apiVersion", api_version},
                  {"time", now_rfc3339()}, {"fieldsType", "FieldsV1"}, {"fieldsV1", fields_v1_from_set(mine)}};
    if (!subresource.empty()) entry["subresource"] = subresource;
    out.push_back(entry);
  }
  if (out.empty()) obj["metadata"].erase("managedFields");
  else obj["metadata"]["managedFields"] = out;
}

// pods/NAME/ephemeralcontainers writes only spec.ephemeralContainers; the rest of the sent Pod is ignored.
json ephemeral_update(const json& existing, const json& sent) {
  json next = existing;
  const json spec = sent.value("spec", json::object());
  if (spec.contains("ephemeralContainers")) next["spec"]["ephemeralContainers"] = spec["ephemeralContainers"];
  else if (next["spec"].is_object()) next["spec"].erase("ephemeralContainers");
  return next;
}

json strip_server_fields(json touched) {
  if (touched.is_object() && touched.contains("metadata") && touched["metadata"].is_object()) {
    for (const char* f : {"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink"})
      touched["metadata"].erase(f);
  }
  return touched;
}
}  // namespace

void ApiServer::respond_object(const SessionPtr& s, const HttpRequest& req, const ResourceType& t, int code, const json& obj,
                               const std::vector<std::string>& unknown_fields) {
  if (!unknown_fields.empty() && !wants_table(req) && !wants_partial(req)) {
    // fieldValidation=Warn, kube-apiserver's default: the object is taken, each unknown field
    // named in a Warning header (kubectl prints them).
    std::vector<std::pair<std::string, std::string>> warnings;
    for (const auto& f : unknown_fields) warnings.emplace_back("Warning", "299 - \"unknown field \\\"" + f + "\\\"\"");
    return s->respond(code, "application/json", obj.dump(), warnings);
  }
  if (wants_table(req)) {
    return s->respond_json(code, make_table(t.kind, {&obj}, parse_include_object(req.param("includeObject")),
                                            {{"resourceVersion", obj["metadata"].value("resourceVersion", "")}}));
  }
  if (wants_partial(req)) return s->respond_json(code, partial_metadata(obj));
  s->respond_json(code, obj);
}

json ApiServer::commit(const ResourceType& t, const std::string& ns, json obj, const json* existing, bool dry_run,
                       const std::string& manager, const json& touched, const std::string& operation) {
  obj["apiVersion"] = t.group_version();
  obj["kind"] = t.kind;
  auto& md = obj["metadata"];
  if (t.namespaced) md["namespace"] = ns;
  else md.erase("namespace");
  md.erase("selfLink");
  if (existing) {
    const auto& old = (*existing)["metadata"];
    md["uid"] = old["uid"];
    md["creationTimestamp"] = old["creationTimestamp"];
    md["generation"] = old.value("generation", 1) + (spec_changed(*existing, obj) ? 1 : 0);
  } else {
    md["uid"] = new_uid();
    md["creationTimestamp"] = now_rfc3339();
    md["generation"] = 1;
  }
  apply_defaults(t, obj, alloc_);
  update_managed_fields(obj, existing, manager, operation, strip_server_fields(touched), t.group_version(), "");
  const std::string name = md["name"].get<std::string>();
  if (dry_run) {
    md["resourceVersion"] = existing ? (*existing)["metadata"]["resourceVersion"] : json("");
    return obj;
  }
  const auto rv = store_.next_rv();
  md["resourceVersion"] = std::to_string(rv);
  return store_.put(t.group_resource(), t.namespaced ? ns : "", name, std::move(obj), rv);
}

void ApiServer::do_get(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  const json* obj = store_.get(t.group_resource(), rp.ns, rp.name);
  if (!obj) return not_found(s, t, rp.name);
  if (rp.subresource == "scale") return s->respond_json(200, scale_of(*obj));
  respond_object(s, req, t, 200, *obj);
}

void ApiServer::do_list(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  std::string error;
  auto labels = parse_label_selector(req.param("labelSelector"), error);
  auto fields = labels ? parse_field_selector(req.param("fieldSelector"), error) : std::nullopt;
  if (!labels || !fields) return fail(s, 400, "unable to parse requested label selector: " + error, "BadRequest");
  std::string start;
  std::uint64_t rv = store_.current_rv();
  if (auto token = req.param("continue"); !token.empty()) {
    auto decoded = decode_continue(token);
    if (!decoded) return fail(s, 400, "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)", "BadRequest");
    start = decoded->first;
  }
  const long long limit = std::strtoll(req.param("limit", "0").c_str(), nullptr, 10);
  std::vector<const json*> items;
  std::string next_key;
  long long remaining = 0;
  for (const json* o : store_.list(t.group_resource(), rp.ns)) {
    if (!start.empty() && object_key(*o) <= start) continue;
    if (!matches_labels(*labels, *o) || !matches_fields(*fields, *o)) continue;
    if (limit > 0 && static_cast<long long>(items.size()) >= limit) {
      ++remaining;
      continue;
    }
    items.push_back(o);
  }
  json meta = {{"resourceVersion", std::to_string(rv)}};
  if (remaining > 0) {
    meta["continue"] = encode_continue(object_key(*items.back()), rv);
    meta["remainingItemCount"] = remaining;
  }
  if (wants_table(req))
    return s->respond_json(200, make_table(t.kind, items, parse_include_object(req.param("includeObject")), meta));
  json out_items = json::array();
  for (const json* o : items) {
    if (wants_partial(req)) {
      out_items.push_back(partial_metadata(*o));
      continue;
    }
    json copy = *o;  // list items carry no apiVersion/kind, as the API server sends them
    copy.erase("apiVersion");
    copy.erase("kind");
    out_items.push_back(std::move(copy));
  }
  if (wants_partial(req))
    return s->respond_json(200, {{"kind", "PartialObjectMetadataList"}, {"apiVersion", "meta.k8s.io/v1"},
                                 {"metadata", meta}, {"items", out_items}});
  s->respond_json(200, {{"kind", t.kind + "List"}, {"apiVersion", t.group_version()}, {"metadata", meta}, {"items", out_items}});
}

void ApiServer::do_watch(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  std::string error;
  auto labels = parse_label_selector(req.param("labelSelector"), error);
  auto fields = labels ? parse_field_selector(req.param("fieldSelector"), error) : std::nullopt;
  if (!labels || !fields) return fail(s, 400, "unable to parse requested selector: " + error, "BadRequest");
  if (!rp.name.empty()) fields->requirements.push_back({"metadata.name", Requirement::Op::Equals, {rp.name}});
  const bool table = wants_table(req);
  const auto include = parse_include_object(req.param("includeObject"));
  const std::string ns = rp.ns;
  const std::string kind = t.kind;
  auto matches = [labels = *labels, fields = *fields, ns](const json& o) {
    if (o.is_null()) return false;
    if (!ns.empty() && o["metadata"].value("namespace", std::string()) != ns) return false;
    return matches_labels(labels, o) && matches_fields(fields, o);
  };
  auto encode = [table, include, kind](const std::string& type, const json& o) {
    json obj = table ? make_table(kind, {&o}, include, {{"resourceVersion", o["metadata"].value("resourceVersion", "")}}) : o;
    return json{{"type", type}, {"object", obj}}.dump() + "\n";
  };

  const std::string rv_param = req.param("resourceVersion");
  std::optional<std::vector<const WatchEvent*>> replay;
  if (!rv_param.empty() && rv_param != "0") {
    const std::uint64_t rv = std::strtoull(rv_param.c_str(), nullptr, 10);
    replay = store_.events_since(rv, t.group_resource());
    if (!replay) {
      s->start_stream(200, "application/json");
      json st = common::make_status(410, "too old resource version: " + rv_param + " (" +
                                             std::to_string(store_.current_rv()) + ")", "Expired");
      s->write_chunk(json{{"type", "ERROR"}, {"object", st}}.dump() + "\n");
      return s->end_stream();
    }
  }
  s->start_stream(200, "application/json");
  if (replay) {
    for (const WatchEvent* ev : *replay) {
      const bool now = matches(ev->object), before = matches(ev->previous);
      if (ev->type == "MODIFIED" && now && !before) s->write_chunk(encode("ADDED", ev->object));
      else if (ev->type == "MODIFIED" && !now && before) s->write_chunk(encode("DELETED", ev->object));
      else if (now || (ev->type == "DELETED" && matches(ev->object))) s->write_chunk(encode(ev->type, ev->object));
    }
  } else {
    for (const json* o : store_.list(t.group_resource(), ns))
      if (matches(*o)) s->write_chunk(encode("ADDED", *o));
  }
  std::weak_ptr<HttpSession> weak = s;
  const auto id = store_.add_watcher(t.group_resource(), [weak, matches, encode](const WatchEvent& ev) {
    auto session = weak.lock();
    if (!session || !session->streaming_open()) return;
    const bool now = matches(ev.object), before = matches(ev.previous);
    if (ev.type == "MODIFIED" && now && !before) session->write_chunk(encode("ADDED", ev.object));
    else if (ev.type == "MODIFIED" && !now && before) session->write_chunk(encode("DELETED", ev.object));
    else if (now) session->write_chunk(encode(ev.type, ev.object));
  });
  auto timer = std::make_shared<boost::asio::steady_timer>(io_);
  auto stop = [this, id, timer, weak, path = req.target]() {
    store_.remove_watcher(id);
    timer->cancel();
    if (auto session = weak.lock()) session->end_stream();
  };
  s->on_disconnect([this, id, timer, path = req.target]() {
    store_.remove_watcher(id);
    timer->cancel();
    request_log_.push_back({{"seq", ++request_seq_}, {"event", "client-disconnected"}, {"uri", path}, {"time", now_rfc3339()}});
  });
  if (const long long timeout = std::strtoll(req.param("timeoutSeconds", "0").c_str(), nullptr, 10); timeout > 0) {
    timer->expires_after(std::chrono::seconds(timeout));
    timer->async_wait([stop](const boost::system::error_code& ec) {
      if (!ec) stop();
    });
  }
}

bool ApiServer::check_fields(const SessionPtr& s, const HttpRequest& req, const ResourceType& t, const json& object,
                             bool patch, std::vector<std::string>& warn) {
  const std::string mode = req.param("fieldValidation", "Warn");
  if (mode != "Strict" && mode != "Warn" && mode != "Ignore") {
    fail(s, 400, "fieldValidation must be one of Ignore, Warn or Strict, not \"" + mode + "\"", "BadRequest");
    return false;
  }
  if (mode == "Ignore" || !object.is_object()) return true;
  const auto unknown = openapi_.unknown_fields(t, object, patch);
  if (unknown.empty()) return true;
  if (mode == "Warn") {
    warn = unknown;
    return true;
  }
  std::string message = "strict decoding error: ";
  for (std::size_t i = 0; i < unknown.size(); ++i) message += (i ? ", " : "") + std::string("unknown field \"") + unknown[i] + "\"";
  if (!patch) message = t.kind + " in version \"" + t.version + "\" cannot be handled as a " + t.kind + ": " + message;
  fail(s, 400, message, "BadRequest");
  return false;
}

void ApiServer::do_create(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  std::string error;
  auto parsed = parse_object_body(req, error);
  if (!parsed) return fail(s, 400, error, "BadRequest");
  json body = std::move(*parsed);
  if (t.namespaced && rp.ns.empty())
    return fail(s, 405, "the server does not allow this method on the requested resource", "MethodNotAllowed");
  if (body.contains("kind") && body["kind"] != t.kind)
    return fail(s, 400, "the kind in the data (" + body["kind"].get<std::string>() + ") does not match the expected kind (" + t.kind + ")", "BadRequest");
  std::vector<std::string> unknown;
  if (!check_fields(s, req, t, body, false, unknown)) return;
  auto& md = body["metadata"];
  if (!md.is_object()) md = json::object();
  if (t.namespaced) {
    if (md.contains("namespace") && md["namespace"] != "" && md["namespace"] != rp.ns)
      return fail(s, 400, "the namespace of the provided object does not match the namespace sent on the request", "BadRequest");
    if (!store_.get("namespaces", "", rp.ns)) {
      return fail(s, 404, "namespaces \"" + rp.ns + "\" not found", "NotFound", {{"name", rp.ns}, {"kind", "namespaces"}});
    }
  }
  if (md.value("name", std::string()).empty() && !md.value("generateName", std::string()).empty())
    md["name"] = md["generateName"].get<std::string>() + generate_suffix();
  const std::string name = md.value("name", std::string());
  if (auto errs = validate_object(t, body); !errs.empty()) return s->respond_json(422, invalid_status(t, name, errs));
  if (store_.get(t.group_resource(), t.namespaced ? rp.ns : "", name)) {
    json details = {{"name", name}, {"kind", t.resource}};
    if (!t.group.empty()) details["group"] = t.group;
    return fail(s, 409, t.group_resource() + " \"" + name + "\" already exists", "AlreadyExists", details);
  }
  const json touched = body;
  if (t.kind == "Pod") body.erase("status");
  json created = commit(t, rp.ns, std::move(body), nullptr, is_dry_run(req), field_manager(req), touched, "Update");
  if (t.kind == "Pod" && !is_dry_run(req)) {
    start_pod(rp.ns, name);
    if (const json* now = store_.get("pods", rp.ns, name)) created = *now;
  }
  respond_object(s, req, t, 201, created, unknown);
}

void ApiServer::do_token_request(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp) {
  std::string error;
  auto parsed = parse_object_body(req, error);
  if (!parsed) return fail(s, 400, error, "BadRequest");
  json body = std::move(*parsed);
  if (body.contains("kind") && body["kind"] != "TokenRequest")
    return fail(s, 400, "the kind in the data (" + body["kind"].dump() + ") does not match the expected kind (TokenRequest)",
                "BadRequest");
  if (!store_.get("serviceaccounts", rp.ns, rp.name))
    return fail(s, 404, "serviceaccounts \"" + rp.name + "\" not found", "NotFound",
                {{"name", rp.name}, {"kind", "serviceaccounts"}});
  json spec = body.contains("spec") && body["spec"].is_object() ? body["spec"] : json::object();
  const auto seconds = spec.value("expirationSeconds", 3600L);
  if (seconds < 600) {
    const std::string message = "spec.expirationSeconds: Invalid value: " + std::to_string(seconds) +
                                ": may not specify a duration less than 10 minutes";
    return fail(s, 422, "TokenRequest.authentication.k8s.io \"" + rp.name + "\" is invalid: " + message, "Invalid",
                {{"name", rp.name}, {"group", "authentication.k8s.io"}, {"kind", "TokenRequest"}});
  }
  spec["expirationSeconds"] = seconds;
  if (!spec.contains("audiences") || spec["audiences"].empty())
    spec["audiences"] = json::array({"https://kubernetes.default.svc.cluster.local"});
  json out = {{"kind", "TokenRequest"},
              {"apiVersion", "authentication.k8s.io/v1"},
              {"metadata", {{"name", rp.name}, {"namespace", rp.ns}, {"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", {{"token", ""}, {"expirationTimestamp", now_rfc3339(seconds)}}}};
  // A dry run issues no token, as kube-apiserver's TokenREST answers one.
  if (!is_dry_run(req)) {
    const json claims = {{"iss", "https://kubernetes.default.svc.cluster.local"},
                         {"sub", "system:serviceaccount:" + rp.ns + ":" + rp.name},
                         {"aud", spec["audiences"]}};
    out["status"]["token"] = sluice::common::base64url_encode(R"({"alg":"RS256","kid":"standin"})") + "." + sluice::common::base64url_encode(claims.dump()) + "." +
                             sluice::common::base64url_encode(sluice::common::random_token_hex(32));
  }
  s->respond_json(201, out);
}

void ApiServer::do_update(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  std::string error;
  auto parsed = parse_object_body(req, error);
  if (!parsed) return fail(s, 400, error, "BadRequest");
  json body = std::move(*parsed);
  std::vector<std::string> unknown;  // a Scale is not the kind's schema
  if (rp.subresource != "scale" && !check_fields(s, req, t, body, false, unknown)) return;
  const json* existing = store_.get(t.group_resource(), rp.ns, rp.name);
  if (!existing) return not_found(s, t, rp.name);
  const std::string sent_rv = body.value("metadata", json::object()).value("resourceVersion", std::string());
  if (!sent_rv.empty() && sent_rv != (*existing)["metadata"]["resourceVersion"].get<std::string>()) {
    json details = {{"name", rp.name}, {"kind", t.resource}};
    if (!t.group.empty()) details["group"] = t.group;
    return fail(s, 409, "Operation cannot be fulfilled on " + t.group_resource() + " \"" + rp.name +
                            "\": the object has been modified; please apply your changes to the latest version and try again",
                "Conflict", details);
  }
  json next;
  if (rp.subresource == "scale") {
    next = *existing;
    next["spec"]["replicas"] = body.value("spec", json::object()).value("replicas", 0);
  } else if (rp.subresource == "status") {
    next = *existing;
    next["status"] = body.value("status", json::object());
  } else if (rp.subresource == "ephemeralcontainers") {
    next = ephemeral_update(*existing, body);
  } else {
    next = body;
    if (body.value("metadata", json::object()).value("name", rp.name) != rp.name)
      return fail(s, 400, "the name of the object (" + body["metadata"]["name"].get<std::string>() +
                              ") does not match the name on the URL (" + rp.name + ")", "BadRequest");
    next["metadata"]["name"] = rp.name;
    if (existing->contains("status")) next["status"] = (*existing)["status"];
  }
  if (auto errs = validate_object(t, next); !errs.empty()) return s->respond_json(422, invalid_status(t, rp.name, errs));
  if (rp.subresource == "ephemeralcontainers")
    if (auto errs = validate_ephemeral_update(*existing, next); !errs.empty())
      return s->respond_json(422, invalid_status(t, rp.name, errs));
  json saved = commit(t, rp.ns, std::move(next), existing, is_dry_run(req), field_manager(req), body, "Update");
  if (rp.subresource == "ephemeralcontainers" && !is_dry_run(req)) saved = start_ephemeral_containers(rp.ns, rp.name);
  if (rp.subresource == "scale") return s->respond_json(200, scale_of(saved));
  respond_object(s, req, t, 200, saved, unknown);
}

void ApiServer::do_patch(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  const std::string ct = req.header("content-type");
  const std::string type = ct.substr(0, ct.find(';'));
  if (type == "application/apply-patch+yaml") return do_apply(s, req, t, rp);
  if (type != "application/json-patch+json" && type != "application/merge-patch+json" &&
      type != "application/strategic-merge-patch+json")
    return fail(s, 415, "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                        "application/strategic-merge-patch+json", "UnsupportedMediaType");
  const json* existing = store_.get(t.group_resource(), rp.ns, rp.name);
  if (!existing) return not_found(s, t, rp.name);
  json patch = json::parse(req.body, nullptr, false);
  if (patch.is_discarded()) return fail(s, 400, "the patch is not valid JSON", "BadRequest");
  std::vector<std::string> unknown;  // merge and strategic patches are partial objects of the kind
  if (type != "application/json-patch+json" && rp.subresource != "scale" && !check_fields(s, req, t, patch, true, unknown))
    return;
  json base = rp.subresource == "scale" ? scale_of(*existing) : *existing;
  json patched = base;
  if (type == "application/json-patch+json") {
    if (!patch.is_array()) return fail(s, 400, "json patch must be a list of operations", "BadRequest");
    // One operation at a time, so a failure names the operation as kube-apiserver does.
    for (const auto& op : patch) {
      try {
        patched = patched.patch(json::array({op}));
      } catch (const std::exception&) {
        const std::string path = op.value("path", std::string());
        const std::string verb = op.value("op", std::string());
        return fail(s, 422, verb == "test" ? "testing value " + path + " failed: test failed"
                                           : verb + " operation does not apply: doc is missing path: \"" + path + "\": missing value",
                    "Invalid");
      }
    }
  } else if (type == "application/merge-patch+json") {
    patched.merge_patch(patch);
  } else {
    strategic_merge(patched, patch);
  }
  const std::string current_rv = (*existing)["metadata"]["resourceVersion"];
  const std::string sent_rv = patched.value("metadata", json::object()).value("resourceVersion", current_rv);
  if (sent_rv != current_rv)
    return fail(s, 409, "Operation cannot be fulfilled on " + t.group_resource() + " \"" + rp.name +
                            "\": the object has been modified; please apply your changes to the latest version and try again",
                "Conflict", {{"name", rp.name}, {"kind", t.resource}});
  json next;
  if (rp.subresource == "scale") {
    next = *existing;
    next["spec"]["replicas"] = patched["spec"].value("replicas", 0);
  } else if (rp.subresource == "status") {
    next = *existing;
    next["status"] = patched.value("status", json::object());
  } else if (rp.subresource == "ephemeralcontainers") {
    next = ephemeral_update(*existing, patched);
  } else {
    next = patched;
    if (existing->contains("status")) next["status"] = (*existing)["status"];
  }
  if (next["metadata"].value("name", std::string()) != rp.name)
    return fail(s, 400, "metadata.name: the name of a patched object cannot change", "BadRequest");
  if (auto errs = validate_object(t, next); !errs.empty()) return s->respond_json(422, invalid_status(t, rp.name, errs));
  if (rp.subresource == "ephemeralcontainers")
    if (auto errs = validate_ephemeral_update(*existing, next); !errs.empty())
      return s->respond_json(422, invalid_status(t, rp.name, errs));
  json saved = commit(t, rp.ns, std::move(next), existing, is_dry_run(req), field_manager(req),
                      patch.is_object() ? strip_directives(patch) : json::object(), "Update");
  if (rp.subresource == "ephemeralcontainers" && !is_dry_run(req)) saved = start_ephemeral_containers(rp.ns, rp.name);
  if (rp.subresource == "scale") return s->respond_json(200, scale_of(saved));
  respond_object(s, req, t, 200, saved, unknown);
}

void ApiServer::do_apply(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  const std::string manager = req.param("fieldManager");
  if (manager.empty())
    return fail(s, 400, "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests", "BadRequest");
  json applied;
  try {
    applied = yaml_to_json(req.body);
  } catch (const std::exception& e) {
    return fail(s, 400, std::string("error decoding YAML: ") + e.what(), "BadRequest");
  }
  if (!applied.is_object() || !applied.contains("apiVersion") || !applied.contains("kind"))
    return fail(s, 400, "invalid object: apiVersion and kind must be set for server-side apply", "BadRequest");
  if (applied.value("metadata", json::object()).value("name", std::string()) != rp.name)
    return fail(s, 400, "the name of the object does not match the name on the URL (" + rp.name + ")", "BadRequest");
  const bool force = req.param("force") == "true";
  const json* existing = store_.get(t.group_resource(), rp.ns, rp.name);
  if (!existing) {
    if (t.namespaced && !store_.get("namespaces", "", rp.ns))
      return fail(s, 404, "namespaces \"" + rp.ns + "\" not found", "NotFound", {{"name", rp.ns}, {"kind", "namespaces"}});
    json obj = applied;
    if (auto errs = validate_object(t, obj); !errs.empty()) return s->respond_json(422, invalid_status(t, rp.name, errs));
    json created = commit(t, rp.ns, std::move(obj), nullptr, is_dry_run(req), manager, applied, "Apply");
    if (t.kind == "Pod" && !is_dry_run(req)) {
      start_pod(rp.ns, rp.name);
      if (const json* now = store_.get("pods", rp.ns, rp.name)) created = *now;
    }
    return respond_object(s, req, t, 201, created);
  }
  // Conflicts: fields this manager applies with another value, owned by someone else.
  const FieldSet applying = field_set_of(applied);
  FieldSet previously_mine, owned_by_others;
  json conflicts = json::array();
  std::string conflict_text;
  for (const auto& e : (*existing)["metadata"].value("managedFields", json::array())) {
    FieldSet set = field_set_from_v1(e.value("fieldsV1", json::object()));
    if (e.value("manager", "") == manager && e.value("operation", "") == "Apply") {
      previously_mine = set;
      continue;
    }
    owned_by_others.insert(set.begin(), set.end());
    for (const auto& p : applying) {
      if (!set.count(p)) continue;
      const json* live = value_at(*existing, p);
      const json* want = value_at(applied, p);
      if (live && want && *live == *want) continue;
      const std::string who = "conflict with \"" + e.value("manager", "") + "\"" +
                              (e.value("operation", "") == "Update" ? " using " + e.value("apiVersion", "") : "");
      conflicts.push_back({{"reason", "FieldManagerConflict"}, {"message", who}, {"field", p}});
      conflict_text += "\n- " + who + ": " + p;
    }
  }
  if (!conflicts.empty() && !force) {
    return fail(s, 409, "Apply failed with " + std::to_string(conflicts.size()) + " conflict" +
                            (conflicts.size() > 1 ? "s" : "") + ":" + conflict_text,
                "Conflict", {{"causes", conflicts}});
  }
  json next = *existing;
  next["metadata"].erase("managedFields");
  strategic_merge(next, applied);
  for (const auto& p : previously_mine)  // fields this manager stopped applying are removed
    if (!applying.count(p) && !owned_by_others.count(p)) erase_at(next, p);
  if (existing->contains("status")) next["status"] = (*existing)["status"];
  if (auto errs = validate_object(t, next); !errs.empty()) return s->respond_json(422, invalid_status(t, rp.name, errs));
  json saved = commit(t, rp.ns, std::move(next), existing, is_dry_run(req), manager, applied, "Apply");
  respond_object(s, req, t, 200, saved);
}

void ApiServer::delete_object(const ResourceType& t, const std::string& ns, const std::string& name,
                              const std::string& propagation) {
  auto removed = store_.erase(t.group_resource(), ns, name);
  if (!removed) return;
  if (t.kind == "Pod") runtime_.stop_pod(ns, name);
  if (t.kind == "Namespace") {
    for (const auto& other : catalog_.all()) {
      if (!other.namespaced) continue;
      std::vector<std::string> names;
      for (const json* o : store_.list(other.group_resource(), name)) names.push_back(o->at("metadata").at("name"));
      for (const auto& n : names) delete_object(other, name, n, "Orphan");
    }
  }
  if (propagation == "Orphan") return;
  const std::string uid = (*removed)["metadata"].value("uid", std::string());
  for (const auto& other : catalog_.all()) {
    std::vector<std::pair<std::string, std::string>> dependents;
    for (const json* o : store_.list(other.group_resource(), "")) {
      for (const auto& ref : o->at("metadata").value("ownerReferences", json::array()))
        if (ref.value("uid", "") == uid)
          dependents.emplace_back(o->at("metadata").value("namespace", ""), o->at("metadata").value("name", ""));
    }
    for (const auto& [dns, dname] : dependents) delete_object(other, dns, dname, propagation);
  }
}

void ApiServer::do_delete(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  const json* existing = store_.get(t.group_resource(), rp.ns, rp.name);
  if (!existing) return not_found(s, t, rp.name);
  json options = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (!options.is_object()) return fail(s, 400, "the body of a delete must be DeleteOptions", "BadRequest");
  std::string propagation = req.param("propagationPolicy", options.value("propagationPolicy", std::string("Background")));
  if (propagation != "Background" && propagation != "Foreground" && propagation != "Orphan")
    return fail(s, 400, "DeleteOptions.propagationPolicy: Unsupported value: \"" + propagation + "\"", "BadRequest");
  const json pre = options.value("preconditions", json::object());
  const auto& md = (*existing)["metadata"];
  if (pre.contains("uid") && pre["uid"] != md["uid"])
    return fail(s, 409, "Precondition failed: UID in precondition: " + pre["uid"].get<std::string>() +
                            ", UID in object meta: " + md["uid"].get<std::string>(), "Conflict");
  if (pre.contains("resourceVersion") && pre["resourceVersion"] != md["resourceVersion"])
    return fail(s, 409, "Precondition failed: ResourceVersion in precondition: " + pre["resourceVersion"].get<std::string>() +
                            ", ResourceVersion in object meta: " + md["resourceVersion"].get<std::string>(), "Conflict");
  json details = {{"name", rp.name}, {"kind", t.resource}, {"uid", md["uid"]}};
  if (!t.group.empty()) details["group"] = t.group;
  const bool dry = is_dry_run(req) || (options.contains("dryRun") && options["dryRun"].is_array() && !options["dryRun"].empty());
  if (!dry) delete_object(t, rp.ns, rp.name, propagation);
  json st = common::make_success_status();
  st["details"] = details;
  s->respond_json(200, st);
}

void ApiServer::do_delete_collection(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  std::string error;
  auto labels = parse_label_selector(req.param("labelSelector"), error);
  auto fields = labels ? parse_field_selector(req.param("fieldSelector"), error) : std::nullopt;
  if (!labels || !fields) return fail(s, 400, "unable to parse requested selector: " + error, "BadRequest");
  json deleted = json::array();
  std::vector<std::string> names;
  for (const json* o : store_.list(t.group_resource(), rp.ns))
    if (matches_labels(*labels, *o) && matches_fields(*fields, *o)) {
      names.push_back(o->at("metadata").at("name"));
      deleted.push_back(*o);
    }
  if (!is_dry_run(req))
    for (const auto& n : names) delete_object(t, rp.ns, n, req.param("propagationPolicy", "Background"));
  s->respond_json(200, {{"kind", t.kind + "List"}, {"apiVersion", t.group_version()},
                        {"metadata", {{"resourceVersion", std::to_string(store_.current_rv())}}}, {"items", deleted}});
}

}  // namespace sluice::standin
