#include "common/k8s_status.h"

namespace sluice::common {

std::string_view status_reason_for(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : "BadRequest";
  }
}

nlohmann::json make_status(int code, std::string_view message, std::string_view reason,
                           nlohmann::json details) {
  nlohmann::json s = {
      {"kind", "Status"},
      {"apiVersion", "v1"},
      {"metadata", nlohmann::json::object()},
      {"status", "Failure"},
      {"message", std::string(message)},
      {"reason", std::string(reason.empty() ? status_reason_for(code) : reason)},
      {"code", code},
  };
  if (details.is_object()) s["details"] = std::move(details);
  return s;
}

nlohmann::json make_success_status() {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
          {"status", "Success"}};
}

}  // namespace sluice::common
