#include "gateway/pipeline/request_context.h"

namespace sluice::gateway::pipeline {

std::string RequestContext::header(std::string_view name) const {
  return first_header(headers, name);
}

std::string RequestContext::metrics_verb() const {
  // Labels come from a fixed set: a client must not be able to mint new time series.
  static constexpr const char* kVerbs[] = {"get", "list", "watch", "create", "update", "patch", "delete",
                                           "deletecollection", "proxy", "head", "options"};
  std::string v = classified && !info.verb.empty() ? info.verb : method;
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!classified) {
    if (v == "post") v = "create";
    else if (v == "put") v = "update";
  }
  for (const char* known : kVerbs)
    if (v == known) return v;
  return "other";
}

}  // namespace sluice::gateway::pipeline
