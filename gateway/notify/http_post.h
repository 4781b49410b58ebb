// One HTTPS (or HTTP) POST with libcurl, blocking, for the notification sinks: TLS verified
// against `ca_file` or the system's CAs, 5 s to connect, 15 s in all, at most 64 KiB of answer read.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "gateway/notify/notification_sink.h"

namespace sluice::gateway::notify {

// ok only for a 2xx answer; the error names the status (or libcurl's reason), never the URL's
// query or a header value (they may hold secrets).
Delivery http_post(const std::string& url, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers, const std::string& ca_file);

std::string read_secret_file(const std::string& path);  // first line; throws when unreadable or empty

}  // namespace sluice::gateway::notify
