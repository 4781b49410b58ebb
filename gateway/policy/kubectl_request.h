// Turns a kubectl command line into the HTTP requests kubectl would send for it, so people can
// ask `sluice-gateway policy check -- delete ns shop` what the gateway would decide. Covers the
// commands policies are about (get, create, apply, replace, patch, delete, exec, attach,
// port-forward, logs, scale, label, annotate, and the create generators for bindings and
// namespaces) over the built-in resource types; anything else is an error that says so.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace sluice::gateway::policy {

struct HttpRequest {
  std::string method;
  std::string target;               // path and query
  std::optional<nlohmann::json> body;
};

// `files` reads a manifest named by -f ("-" is standard input); tests pass their own.
using FileReader = std::string (*)(const std::string& path);

// One request per object (a file with several documents gives several). Throws
// std::invalid_argument with a sentence naming what is not understood.
std::vector<HttpRequest> kubectl_requests(const std::vector<std::string>& args, const std::string& default_namespace,
                                          FileReader files);

// YAML (one or more documents, or JSON) to JSON documents.
std::vector<nlohmann::json> yaml_documents(const std::string& text);

}  // namespace sluice::gateway::policy
