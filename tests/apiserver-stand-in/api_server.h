// The stand-in's request handling: authentication, discovery, REST semantics over the object store,
// and the pod subresources (log, exec, attach, portforward).
#pragma once
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "http_session.h"
#include "object_defaults.h"
#include "object_store.h"
#include "openapi_documents.h"
#include "pod_runtime.h"
#include "resource_catalog.h"

namespace sluice::standin {

struct ApiServerConfig {
  std::string token;           // the only bearer token accepted
  std::string server_address;  // host:port, for /api
  unsigned short echo_port = 0;
};

// Parsed resource URL, following kube-apiserver's RequestInfo resolver.
struct ResourcePath {
  std::string group, version;
  bool legacy_watch = false;
  std::string ns, resource, name, subresource;
};
std::optional<ResourcePath> parse_resource_path(const std::string& path);

// A create or update body: JSON, YAML, or Kubernetes protobuf (what kubectl's typed clients send).
std::optional<nlohmann::json> parse_object_body(const HttpRequest& req, std::string& error);

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& io, const ResourceCatalog& catalog, const OpenApiDocuments& openapi,
            ObjectStore& store, PodRuntime& runtime, ApiServerConfig config);

  void seed();  // the namespaces, service accounts and cluster roles every cluster has
  void handle(const std::shared_ptr<HttpSession>& session, HttpRequest& req);

 private:
  using json = nlohmann::json;
  using SessionPtr = std::shared_ptr<HttpSession>;

  struct Caller {
    std::string user;
    std::vector<std::string> groups;
    std::string uid;
    json extra = json::object();
  };

  void record(const HttpRequest& req, const Caller& caller, bool authenticated);
  void handle_debug(const SessionPtr& s, HttpRequest& req);
  bool handle_discovery(const SessionPtr& s, HttpRequest& req);
  void handle_virtual(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp, const Caller& caller);
  void handle_resource(const SessionPtr& s, HttpRequest& req, const ResourceType& type, const ResourcePath& rp);

  // REST verbs (rest_handlers.cpp)
  void do_get(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);
  void do_list(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);
  void do_watch(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);
  void do_create(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);
  void do_update(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);
  void do_patch(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);
  void do_apply(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);
  void do_delete(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);
  void do_delete_collection(const SessionPtr& s, HttpRequest& req, const ResourceType& t, const ResourcePath& rp);

  // Stores `obj` as the new state of an existing or new object, with server-set fields; the
  // status code to answer with is returned (201 on create). dryRun leaves the store as it was.
  json commit(const ResourceType& t, const std::string& ns, json obj, const json* existing, bool dry_run,
              const std::string& manager, const json& touched, const std::string& operation);
  void delete_object(const ResourceType& t, const std::string& ns, const std::string& name, const std::string& propagation);
  // `unknown_fields`: fieldValidation=Warn's findings, sent as Warning headers.
  void respond_object(const SessionPtr& s, const HttpRequest& req, const ResourceType& t, int code, const json& obj,
                      const std::vector<std::string>& unknown_fields = {});
  // fieldValidation (Ignore, Warn: the default, Strict) against upstream's schema: false when the
  // request was refused (400 naming the unknown fields); `warn` gets them under Warn.
  bool check_fields(const SessionPtr& s, const HttpRequest& req, const ResourceType& t, const json& object, bool patch,
                    std::vector<std::string>& warn);

  // Pod subresources (pod_handlers.cpp)
  void do_log(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp);
  // POST serviceaccounts/NAME/token: a TokenRequest answered with a bearer token (a JWT's shape,
  // signed by nobody: the stand-in accepts only its own admin token).
  void do_token_request(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp);
  void do_exec(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp, bool attach);
  void do_portforward(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp);
  void start_pod(const std::string& ns, const std::string& name);
  void start_container(const std::string& ns, const std::string& pod, const json& container);
  // Starts the ephemeral containers that have no status yet; returns the stored pod.
  json start_ephemeral_containers(const std::string& ns, const std::string& name);
  void on_container_exit(const std::string& ns, const std::string& pod, const std::string& container, int code);
  void set_pod_running_status(json& pod);

  void fail(const SessionPtr& s, int code, const std::string& message, const std::string& reason = {},
            json details = nullptr);
  void not_found(const SessionPtr& s, const ResourceType& t, const std::string& name);

  boost::asio::io_context& io_;
  const ResourceCatalog& catalog_;
  const OpenApiDocuments& openapi_;
  ObjectStore& store_;
  PodRuntime& runtime_;
  ApiServerConfig config_;
  Allocator alloc_;
  std::deque<json> request_log_;
  std::uint64_t request_seq_ = 0;
};

}  // namespace sluice::standin
