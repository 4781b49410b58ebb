#include "gateway/pipeline/request_context.h"

#include <boost/beast/core/string.hpp>

namespace sluice::gateway::pipeline {

std::string RequestContext::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (boost::beast::iequals(k, boost::beast::string_view(name.data(), name.size()))) return v;
  return {};
}

std::string RequestContext::metrics_verb() const {
  if (classified && !info.verb.empty()) return info.verb;
  std::string v = method;
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

}  // namespace sluice::gateway::pipeline
