#include "protobuf_decoder.h"

#include <ctime>
#include <map>
#include <set>
#include <vector>

#include "object_defaults.h"

namespace sluice::standin {
namespace {
using json = nlohmann::json;

enum class F { String, Bytes, Int, Bool, Message, StringMap, BytesMap, QuantityMap, Time, IntOrString, Quantity, Inline, Skip };

struct Field {
  int number;
  const char* name;
  F kind;
  const char* type = nullptr;  // message type, for Message / Inline
  bool repeated = false;
};
using Schema = std::map<std::string, std::vector<Field>>;

// Field numbers from k8s.io/api's and k8s.io/apimachinery's generated.proto.
const Schema& schema() {
  static const Schema s = {
      {"ObjectMeta", {{1, "name", F::String}, {2, "generateName", F::String}, {3, "namespace", F::String},
                      {4, "selfLink", F::String}, {5, "uid", F::String}, {6, "resourceVersion", F::String},
                      {7, "generation", F::Int}, {8, "creationTimestamp", F::Time}, {9, "deletionTimestamp", F::Time},
                      {10, "deletionGracePeriodSeconds", F::Int}, {11, "labels", F::StringMap},
                      {12, "annotations", F::StringMap}, {13, "ownerReferences", F::Message, "OwnerReference", true},
                      {14, "finalizers", F::String, nullptr, true}}},
      {"OwnerReference", {{1, "kind", F::String}, {3, "name", F::String}, {4, "uid", F::String},
                          {5, "apiVersion", F::String}, {6, "controller", F::Bool}, {7, "blockOwnerDeletion", F::Bool}}},
      {"Namespace", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "spec", F::Message, "NamespaceSpec"},
                     {3, "status", F::Message, "NamespaceStatus"}}},
      {"NamespaceSpec", {{1, "finalizers", F::String, nullptr, true}}},
      {"NamespaceStatus", {{1, "phase", F::String}}},
      {"Secret", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "data", F::BytesMap}, {3, "type", F::String},
                  {4, "stringData", F::StringMap}, {5, "immutable", F::Bool}}},
      {"ConfigMap", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "data", F::StringMap}, {3, "binaryData", F::BytesMap},
                     {4, "immutable", F::Bool}}},
      {"ServiceAccount", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "secrets", F::Message, "ObjectReference", true},
                          {3, "imagePullSecrets", F::Message, "LocalObjectReference", true},
                          {4, "automountServiceAccountToken", F::Bool}}},
      {"ObjectReference", {{1, "kind", F::String}, {2, "namespace", F::String}, {3, "name", F::String},
                           {4, "uid", F::String}, {5, "apiVersion", F::String}, {6, "resourceVersion", F::String},
                           {7, "fieldPath", F::String}}},
      {"LocalObjectReference", {{1, "name", F::String}}},
      // authentication.k8s.io/v1: what `kubectl create token` sends
      {"TokenRequest", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "spec", F::Message, "TokenRequestSpec"},
                        {3, "status", F::Message, "TokenRequestStatus"}}},
      {"TokenRequestSpec", {{1, "audiences", F::String, nullptr, true}, {3, "boundObjectRef", F::Message, "BoundObjectReference"},
                            {4, "expirationSeconds", F::Int}}},
      {"BoundObjectReference", {{1, "kind", F::String}, {2, "name", F::String}, {3, "uid", F::String},
                                {4, "apiVersion", F::String}}},
      {"TokenRequestStatus", {{1, "token", F::String}, {2, "expirationTimestamp", F::Time}}},
      {"Service", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "spec", F::Message, "ServiceSpec"},
                   {3, "status", F::Skip}}},
      {"ServiceSpec", {{1, "ports", F::Message, "ServicePort", true}, {2, "selector", F::StringMap},
                       {3, "clusterIP", F::String}, {4, "type", F::String}, {5, "externalIPs", F::String, nullptr, true},
                       {7, "sessionAffinity", F::String}, {8, "loadBalancerIP", F::String},
                       {9, "loadBalancerSourceRanges", F::String, nullptr, true}, {10, "externalName", F::String},
                       {11, "externalTrafficPolicy", F::String}, {12, "healthCheckNodePort", F::Int},
                       {13, "publishNotReadyAddresses", F::Bool}, {17, "ipFamilyPolicy", F::String},
                       {18, "clusterIPs", F::String, nullptr, true}, {19, "ipFamilies", F::String, nullptr, true},
                       {20, "allocateLoadBalancerNodePorts", F::Bool}, {21, "loadBalancerClass", F::String},
                       {22, "internalTrafficPolicy", F::String}}},
      {"ServicePort", {{1, "name", F::String}, {2, "protocol", F::String}, {3, "port", F::Int},
                       {4, "targetPort", F::IntOrString}, {5, "nodePort", F::Int}, {6, "appProtocol", F::String}}},
      {"Deployment", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "spec", F::Message, "DeploymentSpec"},
                      {3, "status", F::Skip}}},
      {"DeploymentSpec", {{1, "replicas", F::Int}, {2, "selector", F::Message, "LabelSelector"},
                          {3, "template", F::Message, "PodTemplateSpec"}, {4, "strategy", F::Message, "DeploymentStrategy"},
                          {5, "minReadySeconds", F::Int}, {6, "revisionHistoryLimit", F::Int}, {7, "paused", F::Bool},
                          {9, "progressDeadlineSeconds", F::Int}}},
      {"DeploymentStrategy", {{1, "type", F::String}, {2, "rollingUpdate", F::Message, "RollingUpdateDeployment"}}},
      {"RollingUpdateDeployment", {{1, "maxUnavailable", F::IntOrString}, {2, "maxSurge", F::IntOrString}}},
      {"LabelSelector", {{1, "matchLabels", F::StringMap},
                         {2, "matchExpressions", F::Message, "LabelSelectorRequirement", true}}},
      {"LabelSelectorRequirement", {{1, "key", F::String}, {2, "operator", F::String}, {3, "values", F::String, nullptr, true}}},
      {"PodTemplateSpec", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "spec", F::Message, "PodSpec"}}},
      // core/v1 Pod: what `kubectl debug --copy-to` creates
      {"Pod", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "spec", F::Message, "PodSpec"}, {3, "status", F::Skip}}},
      {"PodSpec", {{1, "volumes", F::Message, "Volume", true}, {2, "containers", F::Message, "Container", true},
                   {3, "restartPolicy", F::String}, {4, "terminationGracePeriodSeconds", F::Int},
                   {5, "activeDeadlineSeconds", F::Int}, {6, "dnsPolicy", F::String}, {7, "nodeSelector", F::StringMap},
                   {8, "serviceAccountName", F::String}, {9, "serviceAccount", F::String}, {10, "nodeName", F::String},
                   {11, "hostNetwork", F::Bool}, {12, "hostPID", F::Bool}, {13, "hostIPC", F::Bool},
                   {14, "securityContext", F::Message, "PodSecurityContext"},
                   {15, "imagePullSecrets", F::Message, "LocalObjectReference", true}, {16, "hostname", F::String},
                   {17, "subdomain", F::String}, {19, "schedulerName", F::String},
                   {20, "initContainers", F::Message, "Container", true}, {21, "automountServiceAccountToken", F::Bool},
                   {22, "tolerations", F::Message, "Toleration", true},
                   {24, "priorityClassName", F::String}, {25, "priority", F::Int}, {27, "shareProcessNamespace", F::Bool},
                   {29, "runtimeClassName", F::String}, {30, "enableServiceLinks", F::Bool},
                   {31, "preemptionPolicy", F::String}, {35, "setHostnameAsFQDN", F::Bool}, {37, "hostUsers", F::Bool}}},
      {"Toleration", {{1, "key", F::String}, {2, "operator", F::String}, {3, "value", F::String}, {4, "effect", F::String},
                      {5, "tolerationSeconds", F::Int}}},
      {"PodSecurityContext", {{2, "runAsUser", F::Int}, {3, "runAsNonRoot", F::Bool},
                              {4, "supplementalGroups", F::Int, nullptr, true}, {5, "fsGroup", F::Int}, {6, "runAsGroup", F::Int}}},
      {"Container", {{1, "name", F::String}, {2, "image", F::String}, {3, "command", F::String, nullptr, true},
                     {4, "args", F::String, nullptr, true}, {5, "workingDir", F::String},
                     {6, "ports", F::Message, "ContainerPort", true}, {7, "env", F::Message, "EnvVar", true},
                     {8, "resources", F::Message, "ResourceRequirements"},
                     {9, "volumeMounts", F::Message, "VolumeMount", true}, {13, "terminationMessagePath", F::String},
                     {14, "imagePullPolicy", F::String}, {15, "securityContext", F::Message, "SecurityContext"},
                     {16, "stdin", F::Bool}, {17, "stdinOnce", F::Bool}, {18, "tty", F::Bool},
                     {20, "terminationMessagePolicy", F::String}}},
      {"ContainerPort", {{1, "name", F::String}, {2, "hostPort", F::Int}, {3, "containerPort", F::Int},
                         {4, "protocol", F::String}, {5, "hostIP", F::String}}},
      {"EnvVar", {{1, "name", F::String}, {2, "value", F::String}}},
      {"ResourceRequirements", {{1, "limits", F::QuantityMap}, {2, "requests", F::QuantityMap}}},
      {"VolumeMount", {{1, "name", F::String}, {2, "readOnly", F::Bool}, {3, "mountPath", F::String},
                       {4, "subPath", F::String}, {5, "mountPropagation", F::String}, {6, "subPathExpr", F::String}}},
      {"SecurityContext", {{1, "capabilities", F::Message, "Capabilities"}, {2, "privileged", F::Bool},
                           {4, "runAsUser", F::Int}, {5, "runAsNonRoot", F::Bool}, {6, "readOnlyRootFilesystem", F::Bool},
                           {7, "allowPrivilegeEscalation", F::Bool}, {8, "runAsGroup", F::Int}}},
      {"Capabilities", {{1, "add", F::String, nullptr, true}, {2, "drop", F::String, nullptr, true}}},
      {"Volume", {{1, "name", F::String}, {2, "volumeSource", F::Inline, "VolumeSource"}}},
      {"VolumeSource", {{1, "hostPath", F::Message, "HostPathVolumeSource"}, {2, "emptyDir", F::Message, "EmptyDirVolumeSource"},
                        {6, "secret", F::Message, "SecretVolumeSource"}, {19, "configMap", F::Message, "ConfigMapVolumeSource"}}},
      {"HostPathVolumeSource", {{1, "path", F::String}, {2, "type", F::String}}},
      {"EmptyDirVolumeSource", {{1, "medium", F::String}, {2, "sizeLimit", F::Quantity}}},
      {"SecretVolumeSource", {{1, "secretName", F::String}, {3, "defaultMode", F::Int}, {4, "optional", F::Bool}}},
      {"ConfigMapVolumeSource", {{1, "localObjectReference", F::Inline, "LocalObjectReference"}, {3, "defaultMode", F::Int},
                                 {4, "optional", F::Bool}}},
      {"Role", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "rules", F::Message, "PolicyRule", true}}},
      {"ClusterRole", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "rules", F::Message, "PolicyRule", true},
                       {3, "aggregationRule", F::Message, "AggregationRule"}}},
      {"AggregationRule", {{1, "clusterRoleSelectors", F::Message, "LabelSelector", true}}},
      {"PolicyRule", {{1, "verbs", F::String, nullptr, true}, {2, "apiGroups", F::String, nullptr, true},
                      {3, "resources", F::String, nullptr, true}, {4, "resourceNames", F::String, nullptr, true},
                      {5, "nonResourceURLs", F::String, nullptr, true}}},
      {"RoleBinding", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "subjects", F::Message, "Subject", true},
                       {3, "roleRef", F::Message, "RoleRef"}}},
      {"ClusterRoleBinding", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "subjects", F::Message, "Subject", true},
                              {3, "roleRef", F::Message, "RoleRef"}}},
      {"Subject", {{1, "kind", F::String}, {2, "apiGroup", F::String}, {3, "name", F::String}, {4, "namespace", F::String}}},
      {"RoleRef", {{1, "apiGroup", F::String}, {2, "kind", F::String}, {3, "name", F::String}}},
      {"SelfSubjectAccessReview", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "spec", F::Message, "SelfSubjectAccessReviewSpec"},
                                   {3, "status", F::Skip}}},
      {"SelfSubjectAccessReviewSpec", {{1, "resourceAttributes", F::Message, "ResourceAttributes"},
                                       {2, "nonResourceAttributes", F::Message, "NonResourceAttributes"}}},
      {"ResourceAttributes", {{1, "namespace", F::String}, {2, "verb", F::String}, {3, "group", F::String},
                              {4, "version", F::String}, {5, "resource", F::String}, {6, "subresource", F::String},
                              {7, "name", F::String}, {8, "fieldSelector", F::Skip}, {9, "labelSelector", F::Skip}}},
      {"NonResourceAttributes", {{1, "path", F::String}, {2, "verb", F::String}}},
      {"SelfSubjectRulesReview", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "spec", F::Message, "SelfSubjectRulesReviewSpec"},
                                  {3, "status", F::Skip}}},
      {"SelfSubjectRulesReviewSpec", {{1, "namespace", F::String}}},
      {"SelfSubjectReview", {{1, "metadata", F::Message, "ObjectMeta"}, {2, "status", F::Skip}}},
      // apimachinery helpers
      {"Time", {{1, "seconds", F::Int}, {2, "nanos", F::Int}}},
      {"IntOrString", {{1, "type", F::Int}, {2, "intVal", F::Int}, {3, "strVal", F::String}}},
      {"Quantity", {{1, "string", F::String}}},
      {"MapEntry", {{1, "key", F::Bytes}, {2, "value", F::Bytes}}},
      {"Unknown", {{1, "typeMeta", F::Message, "TypeMeta"}, {2, "raw", F::Bytes}, {3, "contentEncoding", F::String},
                   {4, "contentType", F::String}}},
      {"TypeMeta", {{1, "apiVersion", F::String}, {2, "kind", F::String}}},
  };
  return s;
}

struct Reader {
  const unsigned char* p;
  const unsigned char* end;
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      const unsigned char b = *p++;
      v |= std::uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool bytes(std::string& out) {
    std::uint64_t n;
    if (!varint(n) || n > static_cast<std::uint64_t>(end - p)) return false;
    out.assign(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
  }
};

bool decode_message(const std::string& type, const std::string& data, json& out, std::string& error, int depth);

// gogo-protobuf writes every non-pointer field, zero or not; Go's JSON then drops zero values
// (omitempty). Pointer fields keep an explicit zero ("replicas: 0"), so they are listed here.
bool keeps_zero(const char* field) {
  static const std::set<std::string> pointers = {
      "replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "terminationGracePeriodSeconds",
      "activeDeadlineSeconds", "automountServiceAccountToken", "runAsUser", "runAsGroup", "runAsNonRoot",
      "privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "immutable", "defaultMode", "optional",
      "hostUsers", "enableServiceLinks", "shareProcessNamespace", "setHostnameAsFQDN", "priority", "controller",
      "blockOwnerDeletion", "deletionGracePeriodSeconds", "fsGroup", "allocateLoadBalancerNodePorts", "paused",
      "tolerationSeconds"};
  return pointers.count(field) > 0;
}

bool is_zero(const json& v) {
  return (v.is_string() && v.get_ref<const std::string&>().empty()) || (v.is_number_integer() && v.get<std::int64_t>() == 0) ||
         (v.is_boolean() && !v.get<bool>());
}

bool decode_scalar_message(const std::string& type, const std::string& data, json& value, std::string& error, int depth) {
  json raw = json::object();
  if (!decode_message(type, data, raw, error, depth + 1)) return false;
  if (type == "Time") {
    std::time_t t = raw.value("seconds", 0LL);
    if (t == 0 && raw.value("nanos", 0) == 0) {  // the zero time is how Go encodes "unset"
      value = nullptr;
      return true;
    }
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    value = buf;
  } else if (type == "IntOrString") {
    value = raw.value("type", 0) == 1 ? json(raw.value("strVal", std::string())) : json(raw.value("intVal", 0));
  } else if (type == "Quantity") {
    value = raw.value("string", std::string());
  }
  return true;
}

bool decode_message(const std::string& type, const std::string& data, json& out, std::string& error, int depth) {
  if (depth > 32) {
    error = "protobuf message nested too deeply";
    return false;
  }
  auto it = schema().find(type);
  if (it == schema().end()) {
    error = "the stand-in has no protobuf schema for " + type;
    return false;
  }
  if (!out.is_object()) out = json::object();
  Reader r{reinterpret_cast<const unsigned char*>(data.data()), reinterpret_cast<const unsigned char*>(data.data()) + data.size()};
  while (r.p < r.end) {
    std::uint64_t key;
    if (!r.varint(key)) return error = "truncated protobuf field key in " + type, false;
    const int number = static_cast<int>(key >> 3);
    const int wire = static_cast<int>(key & 7);
    const Field* f = nullptr;
    for (const auto& cand : it->second)
      if (cand.number == number) f = &cand;
    if (!f) {
      error = "protobuf field " + std::to_string(number) + " of " + type + " is not in the stand-in's schema";
      return false;
    }
    json value;
    if (wire == 0) {
      std::uint64_t v;
      if (f->kind == F::Skip) {
        if (!r.varint(v)) return error = "truncated varint in " + type, false;
        continue;
      }
      if (!r.varint(v)) return error = "truncated varint in " + type, false;
      if (f->kind == F::Bool) value = v != 0;
      else value = static_cast<std::int64_t>(v);
    } else if (wire == 2) {
      std::string bytes;
      if (!r.bytes(bytes)) return error = "truncated length-delimited field in " + type, false;
      switch (f->kind) {
        case F::String: value = bytes; break;
        case F::Bytes: value = bytes; break;
        case F::Message:
          if (!decode_message(f->type, bytes, value, error, depth + 1)) return false;
          break;
        case F::Inline:
          if (!decode_message(f->type, bytes, out, error, depth + 1)) return false;
          continue;
        case F::Skip:  // status sent with a create or update: the server ignores it anyway
          continue;
        case F::Time: case F::IntOrString: case F::Quantity:
          if (!decode_scalar_message(f->kind == F::Time ? "Time" : f->kind == F::IntOrString ? "IntOrString" : "Quantity",
                                     bytes, value, error, depth))
            return false;
          break;
        case F::StringMap: case F::BytesMap: case F::QuantityMap: {
          json entry;
          if (!decode_message("MapEntry", bytes, entry, error, depth + 1)) return false;
          std::string k = entry.value("key", std::string()), v = entry.value("value", std::string());
          if (f->kind == F::BytesMap) {
            out[f->name][k] = base64_encode(v);
          } else if (f->kind == F::QuantityMap) {
            json q;
            if (!decode_scalar_message("Quantity", v, q, error, depth)) return false;
            out[f->name][k] = q;
          } else {
            out[f->name][k] = v;
          }
          continue;
        }
        default: return error = "unexpected bytes for field " + std::string(f->name) + " of " + type, false;
      }
    } else if (wire == 1 || wire == 5) {
      return error = "fixed-width protobuf field " + std::to_string(number) + " in " + type + " is not supported", false;
    } else {
      return error = "invalid protobuf wire type in " + type, false;
    }
    if (f->repeated) out[f->name].push_back(std::move(value));
    else if (is_zero(value) && !keeps_zero(f->name) && type != "MapEntry" && type != "IntOrString" && type != "Time") continue;
    else out[f->name] = std::move(value);
  }
  return true;
}

}  // namespace

std::optional<json> decode_k8s_protobuf(const std::string& body, std::string& error) {
  static const std::string kMagic("k8s\0", 4);
  if (body.compare(0, 4, kMagic) != 0) {
    error = "the body does not start with the Kubernetes protobuf magic";
    return std::nullopt;
  }
  json unknown;
  if (!decode_message("Unknown", body.substr(4), unknown, error, 0)) return std::nullopt;
  const std::string kind = unknown.value("typeMeta", json::object()).value("kind", std::string());
  const std::string api_version = unknown.value("typeMeta", json::object()).value("apiVersion", std::string());
  if (!unknown.value("contentEncoding", std::string()).empty()) {
    error = "protobuf content encoding " + unknown["contentEncoding"].get<std::string>() + " is not supported";
    return std::nullopt;
  }
  json object = json::object();
  if (!decode_message(kind, unknown.value("raw", std::string()), object, error, 0)) return std::nullopt;
  object["apiVersion"] = api_version;
  object["kind"] = kind;
  return object;
}

}  // namespace sluice::standin
