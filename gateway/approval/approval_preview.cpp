#include "gateway/approval/approval_preview.h"

#include <memory>

#include "gateway/approval/unified_diff.h"
#include "gateway/masking/secret_masker.h"
#include "gateway/pipeline/request_rewrite.h"

namespace sluice::gateway::approval {
namespace {

namespace net = boost::asio;
using nlohmann::json;

constexpr std::size_t kMaxNames = 500;  // a collection delete lists at most this many names

// What a namespace deletion takes with it, looked for in these collections (those the cluster
// does not serve answer 404 and are left out).
constexpr const char* kNamespacedCollections[] = {
    "/api/v1/namespaces/{ns}/pods",           "/api/v1/namespaces/{ns}/services",
    "/api/v1/namespaces/{ns}/configmaps",     "/api/v1/namespaces/{ns}/secrets",
    "/api/v1/namespaces/{ns}/serviceaccounts", "/api/v1/namespaces/{ns}/persistentvolumeclaims",
    "/apis/apps/v1/namespaces/{ns}/deployments", "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "/apis/apps/v1/namespaces/{ns}/daemonsets",  "/apis/apps/v1/namespaces/{ns}/replicasets",
    "/apis/batch/v1/namespaces/{ns}/jobs",       "/apis/batch/v1/namespaces/{ns}/cronjobs",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
};

void mask_one(json& o, const PreviewQuestion& q) {
  masking::MaskScope scope;
  scope.secrets = q.info.api_group.empty() && q.info.resource == "secrets";
  scope.profile = q.masking.get();
  scope.api_group = q.info.api_group;
  scope.resource = q.info.resource;
  masking::mask_document(o, scope);
}

// Server-set bookkeeping that changes on every write and only hides the real change in a diff.
json for_diff(json o) {
  if (o.is_object())
    if (auto md = o.find("metadata"); md != o.end() && md->is_object()) {
      md->erase("managedFields");
      md->erase("resourceVersion");
      md->erase("generation");
    }
  return o;
}

struct Gathering {
  PreviewQuestion q;
  json preview = json::object();
  json live, result;
  int outstanding = 1;
  std::function<void(json)> done;

  void error(const std::string& what) { preview["errors"].push_back(what); }
  void finish() {
    if (--outstanding > 0) return;
    const std::string kind = preview["kind"];
    if (kind == "dryRun") {
      mask_one(result, q);
      if (!live.is_null()) mask_one(live, q);
      preview["result"] = result;
      // A failed dry run leaves `result` null: there is nothing to diff, and errors[] says why.
      if (result.is_object() && result.value("kind", "") != "Status") {
        const std::string before = live.is_null() ? "" : for_diff(live).dump(2) + "\n";
        const std::string label = q.info.name.empty() ? q.info.resource : q.info.resource + "/" + q.info.name;
        preview["diff"] = unified_diff(before, for_diff(result).dump(2) + "\n",
                                       live.is_null() ? "/dev/null" : "live/" + label, "dry-run/" + label);
      }
    } else if (kind == "delete") {
      mask_one(live, q);
      preview["live"] = live;
    }
    done(std::move(preview));
  }
};

void fetch(net::any_io_executor ex, tunnel::TunnelRegistry& tunnels, const std::shared_ptr<Gathering>& g,
           std::string method, std::string target, std::string content_type, std::string body,
           std::function<void(Gathering&, const tunnel::FetchResult&)> use, std::string accept = "") {
  HeaderList headers;
  if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
  if (!accept.empty()) headers.emplace_back("Accept", accept);
  auto req = fetch_as(g->q.cluster, g->q.who, std::move(method), std::move(target), std::move(headers), std::move(body));
  req.max_bytes = 4 << 20;  // a dry run answers with the whole object
  ++g->outstanding;
  audited_fetch(ex, tunnels, g->q.audit, g->q.who, "approval preview", std::move(req),
                [g, use = std::move(use)](tunnel::FetchResult r) {
    use(*g, r);
    g->finish();
  });
}

std::string failure(const std::string& what, const tunnel::FetchResult& r) {
  return what + ": " + (r.status ? "HTTP " + std::to_string(r.status) : r.error);
}

// Names (and the count) of a list answer; appended under preview["deletes"][key].
void add_names(Gathering& g, const std::string& key, const tunnel::FetchResult& r) {
  if (r.status == 404) return;  // a collection this cluster does not serve
  auto list = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !list.is_object() || !list["items"].is_array())
    return g.error(failure("listing " + key, r));
  json names = json::array();
  for (const auto& item : list["items"])
    if (names.size() < kMaxNames && item.is_object() && item["metadata"].is_object())
      names.push_back(item["metadata"].value("name", ""));
  // A page of kMaxNames: the API server counts the rest (remainingItemCount) without sending them.
  std::size_t count = list["items"].size();
  const json& meta = list["metadata"];
  bool at_least = false;
  if (meta.is_object()) {
    if (meta.contains("remainingItemCount") && meta["remainingItemCount"].is_number_unsigned())
      count += meta["remainingItemCount"].get<std::size_t>();
    else if (!meta.value("continue", "").empty())
      at_least = true;  // more pages and no count: "at least"
  }
  if (count == 0) return;
  g.preview["deletes"][key] = {{"count", count}, {"names", names}};
  if (at_least) {
    g.preview["deletes"][key]["countIsLowerBound"] = true;
    g.preview["countIsLowerBound"] = true;
  }
  g.preview["count"] = g.preview.value("count", 0) + count;
}

// One page of names only: metadata (PartialObjectMetadataList, so no Secret value is even fetched),
// at most kMaxNames items. A namespace delete lists 14 collections; this bounds what each costs.
constexpr const char* kNamesOnly = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json";

std::string first_page(std::string target) {
  const auto q = target.find('?');
  if (q != std::string::npos && common::query_value(common::decode_query(target.substr(q + 1)).params, "limit"))
    return target;  // the client's own limit stays: one value for the API server to read
  return target + (q == std::string::npos ? "?" : "&") + "limit=" + std::to_string(kMaxNames);
}

}  // namespace

void mask_secret_values(json& object) { masking::mask_document(object, masking::MaskScope{}); }

void build_preview(net::any_io_executor executor, tunnel::TunnelRegistry& tunnels, PreviewQuestion question,
                   std::function<void(json)> done) {
  auto g = std::make_shared<Gathering>();
  g->q = std::move(question);
  g->done = std::move(done);
  const auto& info = g->q.info;
  const std::string live_path = live_object_path(info);
  if ((info.verb == "create" && info.subresource.empty()) || info.verb == "update" || info.verb == "patch") {
    g->preview["kind"] = "dryRun";
    fetch(executor, tunnels, g, g->q.method, dry_run_target(g->q.target), g->q.content_type, g->q.body,
          [](Gathering& g, const tunnel::FetchResult& r) {
            auto j = json::parse(r.body, nullptr, false);
            g.preview["status"] = r.status;
            if (r.status == 0 || j.is_discarded()) return g.error(failure("dry run", r));
            g.result = std::move(j);  // an object, or the Status the request would get
          });
    if (!live_path.empty())
      fetch(executor, tunnels, g, "GET", live_path, "", "", [](Gathering& g, const tunnel::FetchResult& r) {
        if (r.status == 200) g.live = json::parse(r.body, nullptr, false);
        else if (r.status != 404) g.error(failure("reading the live object", r));
        if (g.live.is_discarded()) g.live = nullptr;
      });
  } else if (info.verb == "delete" && info.resource == "namespaces" && info.subresource.empty()) {
    g->preview["kind"] = "namespaceDelete";
    g->preview["count"] = 0;
    for (std::string path : kNamespacedCollections) {
      path.replace(path.find("{ns}"), 4, info.name);
      const std::string key = path.substr(path.rfind('/') + 1);
      fetch(executor, tunnels, g, "GET", first_page(path), "", "",
            [key](Gathering& g, const tunnel::FetchResult& r) { add_names(g, key, r); }, kNamesOnly);
    }
  } else if (info.verb == "delete" && !live_path.empty()) {
    g->preview["kind"] = "delete";
    fetch(executor, tunnels, g, "GET", live_path, "", "", [](Gathering& g, const tunnel::FetchResult& r) {
      if (r.status == 200) g.live = json::parse(r.body, nullptr, false);
      else g.error(failure("reading the object to delete", r));
      if (g.live.is_discarded()) g.live = nullptr;
    });
  } else if (info.verb == "deletecollection") {
    g->preview["kind"] = "deletecollection";
    g->preview["count"] = 0;
    // The same path and selectors as a GET: exactly the objects the delete would remove.
    fetch(executor, tunnels, g, "GET", first_page(g->q.target), "", "",
          [key = info.resource](Gathering& g, const tunnel::FetchResult& r) { add_names(g, key, r); }, kNamesOnly);
  } else {
    g->preview["kind"] = "none";  // exec, attach and other connects: the request itself is the preview
  }
  g->finish();
}

}  // namespace sluice::gateway::approval
