#include "table.h"

#include <chrono>
#include <ctime>
#include <functional>

namespace sluice::standin {
namespace {
using json = nlohmann::json;

struct Column {
  std::string name, type, format, description;
  int priority = 0;
  std::function<json(const json&)> cell;
};

std::string str_at(const json& o, std::initializer_list<const char*> path, const std::string& dflt = "") {
  const json* cur = &o;
  for (const char* p : path) {
    if (!cur->is_object() || !cur->contains(p)) return dflt;
    cur = &(*cur)[p];
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return dflt;
  return cur->dump();
}

long long int_at(const json& o, std::initializer_list<const char*> path) {
  const json* cur = &o;
  for (const char* p : path) {
    if (!cur->is_object() || !cur->contains(p)) return 0;
    cur = &(*cur)[p];
  }
  return cur->is_number_integer() ? cur->get<long long>() : 0;
}

long long age_seconds(const json& o) {
  std::string ts = str_at(o, {"metadata", "creationTimestamp"});
  if (ts.empty()) return 0;
  std::tm tm{};
  if (!strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return static_cast<long long>(std::time(nullptr) - timegm(&tm));
}

Column name_col() {
  return {"Name", "string", "name", "Name must be unique within a namespace.", 0,
          [](const json& o) { return json(str_at(o, {"metadata", "name"})); }};
}
Column age_col() {
  return {"Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0,
          [](const json& o) { return json(human_duration(age_seconds(o))); }};
}

std::size_t count_of(const json& o, const char* field) {
  return o.contains(field) && o[field].is_object() ? o[field].size() : 0;
}

std::string join_ports(const json& svc) {
  std::string out;
  if (!svc.contains("spec") || !svc["spec"].contains("ports")) return "<none>";
  for (const auto& p : svc["spec"]["ports"]) {
    if (!out.empty()) out += ",";
    out += std::to_string(p.value("port", 0));
    if (p.contains("nodePort")) out += ":" + std::to_string(p.value("nodePort", 0));
    out += "/" + p.value("protocol", std::string("TCP"));
  }
  return out.empty() ? "<none>" : out;
}

std::vector<Column> columns_for(const std::string& kind) {
  if (kind == "Pod") {
    return {name_col(),
            {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0,
             [](const json& o) {
               std::size_t total = 0, ready = 0;
               if (o.contains("spec") && o["spec"].contains("containers")) total = o["spec"]["containers"].size();
               if (o.contains("status") && o["status"].contains("containerStatuses"))
                 for (const auto& cs : o["status"]["containerStatuses"]) ready += cs.value("ready", false) ? 1 : 0;
               return json(std::to_string(ready) + "/" + std::to_string(total));
             }},
            {"Status", "string", "", "The aggregate status of the containers in this pod.", 0,
             [](const json& o) {
               // As the API server's printer: a finished container's reason (Completed, Error) wins.
               std::string reason = str_at(o, {"status", "phase"}, "Pending");
               if (o.contains("status") && o["status"].contains("containerStatuses"))
                 for (const auto& cs : o["status"]["containerStatuses"])
                   if (cs.contains("state") && cs["state"].contains("terminated"))
                     reason = cs["state"]["terminated"].value("reason", reason);
               return json(reason);
             }},
            {"Restarts", "string", "", "The number of times the containers in this pod have been restarted.", 0,
             [](const json&) { return json("0"); }},
            age_col(),
            {"IP", "string", "", "IP address allocated to the pod.", 1,
             [](const json& o) { return json(str_at(o, {"status", "podIP"}, "<none>")); }},
            {"Node", "string", "", "Name of the Node this pod is scheduled on.", 1,
             [](const json& o) { return json(str_at(o, {"spec", "nodeName"}, "<none>")); }},
            {"Nominated Node", "string", "", "Name of the Node nominated for this pod.", 1,
             [](const json&) { return json("<none>"); }},
            {"Readiness Gates", "string", "", "Readiness gates of this pod.", 1,
             [](const json&) { return json("<none>"); }}};
  }
  if (kind == "Namespace")
    return {name_col(),
            {"Status", "string", "", "The status of the namespace", 0,
             [](const json& o) { return json(str_at(o, {"status", "phase"}, "Active")); }},
            age_col()};
  if (kind == "Deployment" || kind == "ReplicaSet") {
    return {name_col(),
            {"Ready", "string", "", "Number of the pod with ready state", 0,
             [](const json& o) {
               return json(std::to_string(int_at(o, {"status", "readyReplicas"})) + "/" +
                           std::to_string(int_at(o, {"spec", "replicas"})));
             }},
            {"Up-to-date", "integer", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0,
             [](const json& o) { return json(int_at(o, {"status", "updatedReplicas"})); }},
            {"Available", "integer", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0,
             [](const json& o) { return json(int_at(o, {"status", "availableReplicas"})); }},
            age_col(),
            {"Containers", "string", "", "Names of each container in the template.", 1,
             [](const json& o) {
               std::string out;
               for (const auto& c : o["spec"]["template"]["spec"].value("containers", json::array()))
                 out += (out.empty() ? "" : ",") + c.value("name", std::string());
               return json(out);
             }},
            {"Images", "string", "", "Images referenced by each container in the template.", 1,
             [](const json& o) {
               std::string out;
               for (const auto& c : o["spec"]["template"]["spec"].value("containers", json::array()))
                 out += (out.empty() ? "" : ",") + c.value("image", std::string());
               return json(out);
             }}};
  }
  if (kind == "Service")
    return {name_col(),
            {"Type", "string", "", "The type of the service.", 0,
             [](const json& o) { return json(str_at(o, {"spec", "type"}, "ClusterIP")); }},
            {"Cluster-IP", "string", "", "The cluster IP of the service.", 0,
             [](const json& o) { return json(str_at(o, {"spec", "clusterIP"}, "<none>")); }},
            {"External-IP", "string", "", "The external IP of the service.", 0,
             [](const json&) { return json("<none>"); }},
            {"Port(s)", "string", "", "The ports of the service.", 0, [](const json& o) { return json(join_ports(o)); }},
            age_col()};
  if (kind == "Secret")
    return {name_col(),
            {"Type", "string", "", "The type of the secret", 0,
             [](const json& o) { return json(str_at(o, {"type"}, "Opaque")); }},
            {"Data", "string", "", "The number of entries in the data", 0,
             [](const json& o) { return json(std::to_string(count_of(o, "data"))); }},
            age_col()};
  if (kind == "ConfigMap")
    return {name_col(),
            {"Data", "string", "", "The number of entries in the data", 0,
             [](const json& o) { return json(std::to_string(count_of(o, "data") + count_of(o, "binaryData"))); }},
            age_col()};
  if (kind == "ServiceAccount")
    return {name_col(),
            {"Secrets", "string", "", "The number of secrets", 0,
             [](const json& o) { return json(std::to_string(o.value("secrets", json::array()).size())); }},
            age_col()};
  if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
    return {name_col(),
            {"Role", "string", "", "Role of the binding.", 0,
             [](const json& o) {
               return json(str_at(o, {"roleRef", "kind"}) + "/" + str_at(o, {"roleRef", "name"}));
             }},
            age_col()};
  if (kind == "Role" || kind == "ClusterRole")
    return {name_col(),
            {"Created At", "date", "", "Time at which the object was created.", 0,
             [](const json& o) { return json(str_at(o, {"metadata", "creationTimestamp"})); }}};
  return {name_col(), age_col()};
}

}  // namespace

IncludeObject parse_include_object(const std::string& v) {
  if (v == "None") return IncludeObject::None;
  if (v == "Object") return IncludeObject::Object;
  return IncludeObject::Metadata;
}

std::string human_duration(long long s) {
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  long long m = s / 60;
  if (m < 10) return std::to_string(m) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  if (m < 180) return std::to_string(m) + "m";
  long long h = m / 60;
  if (h < 8) return std::to_string(h) + "h" + (m % 60 ? std::to_string(m % 60) + "m" : "");
  if (h < 48) return std::to_string(h) + "h";
  long long d = h / 24;
  if (d < 8) return std::to_string(d) + "d" + (h % 24 ? std::to_string(h % 24) + "h" : "");
  if (d < 365 * 2) return std::to_string(d) + "d";
  return std::to_string(d / 365) + "y";
}

json make_table(const std::string& kind, const std::vector<const json*>& objects, IncludeObject include,
                const json& list_metadata) {
  const auto cols = columns_for(kind);
  json defs = json::array();
  for (const auto& c : cols)
    defs.push_back({{"name", c.name}, {"type", c.type}, {"format", c.format}, {"description", c.description},
                    {"priority", c.priority}});
  json rows = json::array();
  for (const json* o : objects) {
    json cells = json::array();
    for (const auto& c : cols) cells.push_back(c.cell(*o));
    json row = {{"cells", cells}};
    if (include == IncludeObject::Object) {
      row["object"] = *o;
    } else if (include == IncludeObject::Metadata) {
      row["object"] = {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", o->value("metadata", json::object())}};
    }
    rows.push_back(row);
  }
  return {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", list_metadata},
          {"columnDefinitions", defs}, {"rows", rows}};
}

}  // namespace sluice::standin
