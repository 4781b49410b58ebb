#include "api_server.h"

#include <sstream>

#include "common/k8s_status.h"
#include "common/token_compare.h"
#include "patch.h"
#include "protobuf_decoder.h"

namespace sluice::standin {
namespace {
constexpr std::size_t kRequestLogLimit = 20000;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream ss(path);
  for (std::string seg; std::getline(ss, seg, '/');)
    if (!seg.empty()) out.push_back(seg);
  return out;
}
}  // namespace

std::optional<ResourcePath> parse_resource_path(const std::string& path) {
  auto parts = split_path(path);
  ResourcePath rp;
  std::size_t i = 0;
  if (parts.size() >= 2 && parts[0] == "api") {
    rp.version = parts[1];
    i = 2;
  } else if (parts.size() >= 3 && parts[0] == "apis") {
    rp.group = parts[1];
    rp.version = parts[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> rest(parts.begin() + static_cast<long>(i), parts.end());
  if (rest.empty()) return std::nullopt;
  if (rest[0] == "watch") {
    rp.legacy_watch = true;
    rest.erase(rest.begin());
    if (rest.empty()) return std::nullopt;
  }
  if (rest[0] == "namespaces" && rest.size() > 1) {
    rp.ns = rest[1];
    if (rest.size() > 2 && rest[2] != "status" && rest[2] != "finalize") rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.size() > 3) return std::nullopt;
  rp.resource = rest[0];
  if (rest.size() > 1) rp.name = rest[1];
  if (rest.size() > 2) rp.subresource = rest[2];
  return rp;
}

// A create or update body: JSON, YAML, or Kubernetes protobuf (what kubectl's typed clients send).
std::optional<nlohmann::json> parse_object_body(const HttpRequest& req, std::string& error) {
  const std::string ct = req.header("content-type");
  if (ct.find("application/vnd.kubernetes.protobuf") != std::string::npos) return decode_k8s_protobuf(req.body, error);
  if (ct.find("yaml") == std::string::npos) {
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (j.is_object()) return j;
  }
  try {
    auto j = yaml_to_json(req.body);
    if (j.is_object()) return j;
  } catch (const std::exception&) {
  }
  error = "the body of the request was in an unknown format - accepted media types include: application/json, "
          "application/yaml, application/vnd.kubernetes.protobuf";
  return std::nullopt;
}

ApiServer::ApiServer(boost::asio::io_context& io, const ResourceCatalog& catalog, const OpenApiDocuments& openapi,
                     ObjectStore& store, PodRuntime& runtime, ApiServerConfig config)
    : io_(io), catalog_(catalog), openapi_(openapi), store_(store), runtime_(runtime), config_(std::move(config)) {}

void ApiServer::fail(const SessionPtr& s, int code, const std::string& message, const std::string& reason,
                     json details) {
  // kube-apiserver's 404 for a path it does not serve carries "details": {}; kubectl 1.32's debug
  // dereferences it (debug.go:514) and panics without it.
  if (code == 404 && !details.is_object()) details = json::object();
  s->respond_json(code, common::make_status(code, message, reason, std::move(details)));
}

void ApiServer::not_found(const SessionPtr& s, const ResourceType& t, const std::string& name) {
  json details = {{"name", name}, {"kind", t.resource}};
  if (!t.group.empty()) details["group"] = t.group;
  fail(s, 404, t.group_resource() + " \"" + name + "\" not found", "NotFound", details);
}

void ApiServer::seed() {
  auto create = [&](const std::string& resource, const std::string& group, const std::string& ns, json obj) {
    const auto* t = catalog_.find(group, "v1", resource);
    obj["apiVersion"] = t->group_version();
    obj["kind"] = t->kind;
    commit(*t, ns, std::move(obj), nullptr, false, "kube-apiserver", json::object(), "Update");
  };
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    create("namespaces", "", "", {{"metadata", {{"name", ns}}}});
    create("serviceaccounts", "", ns, {{"metadata", {{"name", "default"}, {"namespace", ns}}}});
  }
  create("services", "", "default",
         {{"metadata", {{"name", "kubernetes"}, {"namespace", "default"},
                        {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
          {"spec", {{"clusterIP", "10.96.0.1"},
                    {"ports", json::array({{{"name", "https"}, {"port", 443}, {"targetPort", 6443}}})}}}});
  const json all = {{"apiGroups", {"*"}}, {"resources", {"*"}}, {"verbs", {"*"}}};
  create("clusterroles", "rbac.authorization.k8s.io", "",
         {{"metadata", {{"name", "cluster-admin"}, {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}}}},
          {"rules", json::array({all, {{"nonResourceURLs", {"*"}}, {"verbs", {"*"}}}})}});
  create("clusterroles", "rbac.authorization.k8s.io", "",
         {{"metadata", {{"name", "admin"}, {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}}}},
          {"rules", json::array({all})}});
  create("clusterroles", "rbac.authorization.k8s.io", "",
         {{"metadata", {{"name", "edit"}, {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}}}},
          {"rules", json::array({all})}});
  create("clusterroles", "rbac.authorization.k8s.io", "",
         {{"metadata", {{"name", "view"}, {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}}}},
          {"rules", json::array({{{"apiGroups", {"*"}}, {"resources", {"*"}}, {"verbs", {"get", "list", "watch"}}}})}});
  create("clusterrolebindings", "rbac.authorization.k8s.io", "",
         {{"metadata", {{"name", "cluster-admin"}}},
          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "cluster-admin"}}},
          {"subjects", json::array({{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Group"}, {"name", "system:masters"}}})}});
}

void ApiServer::record(const HttpRequest& req, const Caller& caller, bool authenticated) {
  json imp = json::object();
  if (auto u = req.header("impersonate-user"); !u.empty()) imp["user"] = u;
  if (auto g = req.header_values("impersonate-group"); !g.empty()) imp["groups"] = g;
  if (auto uid = req.header("impersonate-uid"); !uid.empty()) imp["uid"] = uid;
  for (const auto& [k, v] : req.headers)
    if (k.rfind("impersonate-extra-", 0) == 0) imp["extra"][k.substr(18)].push_back(v);
  json entry = {{"seq", ++request_seq_},
                {"time", now_rfc3339()},
                {"method", req.method},
                {"uri", req.target},
                {"authenticated", authenticated},
                {"authenticatedUser", authenticated ? "standin-admin" : ""},
                {"user", caller.user},
                {"groups", caller.groups},
                {"impersonate", imp},
                {"userAgent", req.header("user-agent")},
                {"accept", req.header("accept")},
                {"contentType", req.header("content-type")},
                {"acceptEncoding", req.header("accept-encoding")},
                {"auditID", req.header("audit-id")},
                {"remote", req.remote}};
  request_log_.push_back(std::move(entry));
  if (request_log_.size() > kRequestLogLimit) request_log_.pop_front();
}

void ApiServer::handle_debug(const SessionPtr& s, HttpRequest& req) {
  // Test-only window into what reached the "cluster": who, as whom, which request.
  if (req.method == "DELETE") {
    request_log_.clear();
    return s->respond_json(200, common::make_success_status());
  }
  const std::uint64_t since = std::strtoull(req.param("since", "0").c_str(), nullptr, 10);
  json items = json::array();
  for (const auto& e : request_log_)
    if (e["seq"].get<std::uint64_t>() > since) items.push_back(e);
  s->respond_json(200, {{"items", items}, {"lastSeq", request_seq_}});
}

void ApiServer::handle(const SessionPtr& s, HttpRequest& req) {
  const std::string auth = req.header("authorization");
  const bool authenticated = auth.rfind("Bearer ", 0) == 0 && common::constant_time_equals(auth.substr(7), config_.token);
  Caller caller;
  if (authenticated) {
    caller.user = "standin-admin";
    caller.groups = {"system:masters", "system:authenticated"};
    if (auto u = req.header("impersonate-user"); !u.empty()) {
      caller.user = u;
      caller.groups = req.header_values("impersonate-group");
      // kube-apiserver adds this group to every impersonated user but system:anonymous.
      if (u != "system:anonymous" &&
          std::find(caller.groups.begin(), caller.groups.end(), "system:authenticated") == caller.groups.end())
        caller.groups.push_back("system:authenticated");
      caller.uid = req.header("impersonate-uid");
      for (const auto& [k, v] : req.headers)
        if (k.rfind("impersonate-extra-", 0) == 0) caller.extra[percent_decode(k.substr(18), false)].push_back(v);
    }
  }
  if (req.path.rfind("/_standin/", 0) != 0) record(req, caller, authenticated);
  if (!authenticated) return fail(s, 401, "Unauthorized", "Unauthorized");
  if (req.path == "/_standin/requests") return handle_debug(s, req);
  if (handle_discovery(s, req)) return;

  auto rp = parse_resource_path(req.path);
  if (!rp) return fail(s, 404, "the server could not find the requested resource", "NotFound");
  if (!catalog_.resource_list(rp->group, rp->version))
    return fail(s, 404, "the server could not find the requested resource", "NotFound");
  if (rp->group == "authorization.k8s.io" || rp->group == "authentication.k8s.io")
    return handle_virtual(s, req, *rp, caller);
  const ResourceType* type = catalog_.find(rp->group, rp->version, rp->resource);
  if (!type) return fail(s, 404, "the server could not find the requested resource", "NotFound");
  if (type->resource == "namespaces") rp->ns.clear();
  if (!type->namespaced && !rp->ns.empty() && type->resource != "namespaces")
    return fail(s, 404, "the server could not find the requested resource", "NotFound");
  try {
    handle_resource(s, req, *type, *rp);
  } catch (const std::exception& e) {
    fail(s, 500, std::string("internal error: ") + e.what(), "InternalError");
  }
}

bool ApiServer::handle_discovery(const SessionPtr& s, HttpRequest& req) {
  const std::string& p = req.path;
  if (req.method != "GET") return false;
  if (p == "/healthz" || p == "/readyz" || p == "/livez") {
    s->respond(200, "text/plain; charset=utf-8", "ok");
    return true;
  }
  if (p == "/version") {
    s->respond_json(200, catalog_.version_info());
    return true;
  }
  // Legacy discovery only: kubectl asks for the aggregated form first and, seeing plain
  // application/json come back, falls back to these documents.
  if (p == "/api") {
    s->respond_json(200, catalog_.core_versions(config_.server_address));
    return true;
  }
  if (p == "/apis") {
    s->respond_json(200, catalog_.group_list());
    return true;
  }
  if (p == "/openapi/v2") {
    // client-go asks for gnostic's protobuf form and decodes whatever comes back as protobuf.
    if (req.header("accept").find("application/com.github.proto-openapi.spec.v2") != std::string::npos)
      s->respond(200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", openapi_.v2_protobuf());
    else
      s->respond(200, "application/json", openapi_.v2_json());
    return true;
  }
  if (p == "/openapi/v3") {
    s->respond_json(200, openapi_.v3_root());
    return true;
  }
  if (p.rfind("/openapi/v3/", 0) == 0) {
    if (const auto* doc = openapi_.v3_group_version(p.substr(12))) s->respond_json(200, *doc);
    else fail(s, 404, "the server could not find the requested resource", "NotFound");
    return true;
  }
  auto parts = split_path(p);
  if ((parts.size() == 2 && parts[0] == "api") || (parts.size() == 3 && parts[0] == "apis")) {
    auto list = parts[0] == "api" ? catalog_.resource_list("", parts[1]) : catalog_.resource_list(parts[1], parts[2]);
    if (list) s->respond_json(200, *list);
    else fail(s, 404, "the server could not find the requested resource", "NotFound");
    return true;
  }
  if (parts.size() == 2 && parts[0] == "apis") {
    auto groups = catalog_.group_list();
    for (const auto& g : groups["groups"])
      if (g["name"] == parts[1]) {
        json group = g;
        group["kind"] = "APIGroup";
        group["apiVersion"] = "v1";
        s->respond_json(200, group);
        return true;
      }
    fail(s, 404, "the server could not find the requested resource", "NotFound");
    return true;
  }
  return false;
}

void ApiServer::handle_virtual(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp, const Caller& caller) {
  if (req.method != "POST" || !rp.name.empty())
    return fail(s, 405, "the server does not allow this method on the requested resource", "MethodNotAllowed");
  std::string error;
  auto parsed = parse_object_body(req, error);
  if (!parsed) return fail(s, 400, error, "BadRequest");
  json body = std::move(*parsed);
  body["metadata"]["creationTimestamp"] = nullptr;
  json user = {{"username", caller.user}, {"groups", caller.groups}};
  if (!caller.uid.empty()) user["uid"] = caller.uid;
  if (!caller.extra.empty()) user["extra"] = caller.extra;
  if (rp.resource == "selfsubjectaccessreviews") {
    // Everyone may do everything here: RBAC is the real cluster's business, not the stand-in's.
    body["status"] = {{"allowed", true}, {"reason", "the stand-in allows every request"}};
  } else if (rp.resource == "selfsubjectrulesreviews") {
    body["status"] = {{"resourceRules", json::array({{{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}}})},
                      {"nonResourceRules", json::array({{{"verbs", {"*"}}, {"nonResourceURLs", {"*"}}}})},
                      {"incomplete", false}};
  } else if (rp.resource == "selfsubjectreviews") {
    body["status"] = {{"userInfo", user}};
  } else {
    return fail(s, 404, "the server could not find the requested resource", "NotFound");
  }
  s->respond_json(201, body);
}

void ApiServer::handle_resource(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp) {
  const std::string& m = req.method;
  // kube-apiserver serves only reads under the legacy /watch/ prefix.
  if (rp.legacy_watch && m != "GET" && m != "HEAD")
    return fail(s, 405, "the server does not allow this method on the requested resource", "MethodNotAllowed");
  // metav1 ValidateDryRun on every write's options: All is the only value there is.
  if (m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE") {
    auto [from, to] = req.query.equal_range("dryRun");
    for (auto it = from; it != to; ++it) {
      if (it->second == "All") continue;
      const std::string message = "dryRun: Unsupported value: \"" + it->second + "\": supported values: \"All\"";
      return fail(s, 422, "Options.meta.k8s.io \"\" is invalid: " + message, "Invalid",
                  {{"group", "meta.k8s.io"}, {"kind", "Options"},
                   {"causes", {{{"reason", "FieldValueNotSupported"}, {"message", message}, {"field", "dryRun"}}}}});
    }
  }
  if (!rp.subresource.empty()) {
    const bool pod = t.kind == "Pod";
    if (pod && rp.subresource == "log" && m == "GET") return do_log(s, req, rp);
    if (pod && (rp.subresource == "exec" || rp.subresource == "attach") && (m == "GET" || m == "POST"))
      return do_exec(s, req, rp, rp.subresource == "attach");
    if (pod && rp.subresource == "portforward" && (m == "GET" || m == "POST")) return do_portforward(s, req, rp);
    if (t.kind == "ServiceAccount" && rp.subresource == "token" && m == "POST") return do_token_request(s, req, rp);
    bool known = false;
    for (const auto& sub : t.subresources) known = known || sub == rp.subresource;
    if (!known) return fail(s, 404, "the server could not find the requested resource", "NotFound");
    if (rp.subresource == "status" || rp.subresource == "scale" || rp.subresource == "ephemeralcontainers") {
      if (m == "GET") return do_get(s, req, t, rp);
      if (m == "PUT") return do_update(s, req, t, rp);
      if (m == "PATCH") return do_patch(s, req, t, rp);
    }
    return fail(s, 405, "the server does not allow this method on the requested resource", "MethodNotAllowed");
  }
  if (m == "GET") {
    if (rp.legacy_watch || req.param_bool("watch")) return do_watch(s, req, t, rp);
    return rp.name.empty() ? do_list(s, req, t, rp) : do_get(s, req, t, rp);
  }
  if (m == "POST" && rp.name.empty()) return do_create(s, req, t, rp);
  if (m == "PUT" && !rp.name.empty()) return do_update(s, req, t, rp);
  if (m == "PATCH" && !rp.name.empty()) return do_patch(s, req, t, rp);
  if (m == "DELETE") return rp.name.empty() ? do_delete_collection(s, req, t, rp) : do_delete(s, req, t, rp);
  fail(s, 405, "the server does not allow this method on the requested resource", "MethodNotAllowed");
}

}  // namespace sluice::standin
