// Kubernetes `Status` objects: the only error shape we ever send to a Kubernetes client.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sluice::common {

// The `reason` the API server uses for an HTTP code (metav1.StatusReason).
std::string_view status_reason_for(int code);

// A Failure Status; `details` is added only when it is an object.
nlohmann::json make_status(int code, std::string_view message, std::string_view reason = {},
                           nlohmann::json details = nullptr);

// A Success Status, as the API server answers a delete of a collection or an exec that ended well.
nlohmann::json make_success_status();

}  // namespace sluice::common
