// The audit trail over REST, on the gateway's HTTPS listener (and the reviewer UI's /ui/api/audit),
// for members of audit.viewer_groups only:
//   GET /api/v1/audit?cluster=&user=&verb=&resource=&namespace=&since=&until=&limit=&continue=
//       a search, newest first, in keyset pages: {"items": [...], "continue": "..."} ("" at the end)
//   GET /api/v1/audit/export?since=&until=   every event of the window, oldest first, one
//       audit.k8s.io/v1 Event per line (as `sluice-gateway audit export`), streamed page by page
//   GET /api/v1/audit/verify?since=          the hash chain's check (as `audit verify`)
// since and until take a duration ("10m": that long ago) or a timestamp. The reads are blocking
// libpqxx on store::Database's threads, never on an Asio thread.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/auth/identity.h"
#include "gateway/pipeline/chain.h"
#include "gateway/store/database.h"

namespace sluice::gateway {

bool is_audit_api_path(const std::string& target);

class AuditExportStream;

class AuditApi {
 public:
  using Reply = std::function<void(int code, std::string content_type, std::string body)>;
  AuditApi(store::Database& database, std::vector<std::string> viewer_groups)
      : database_(database), viewer_groups_(std::move(viewer_groups)) {}

  // Search and verify. `reply` runs on a database thread (or at once for a refusal): post it to your strand.
  void serve(const std::string& method, const std::string& target, const Identity& who, Reply reply);
  // The export, written straight to the chain's client. nullptr when refused at once (`chain` has
  // its answer then); else the stream, which its owner stops when the request ends.
  std::shared_ptr<AuditExportStream> export_to(const std::string& target, const Identity& who,
                                               const HeaderList& extra_headers, pipeline::Chain& chain);
  static bool is_export(const std::string& target);

 private:
  store::Database& database_;
  std::vector<std::string> viewer_groups_;
};

// One export in flight: a page read, written, and only then the next (bounded memory whatever
// the window holds).
class AuditExportStream : public std::enable_shared_from_this<AuditExportStream> {
 public:
  AuditExportStream(store::Database& database, std::shared_ptr<pipeline::Chain> chain, std::string since,
                    std::string until);
  void start(HeaderList headers);
  void stop();

 private:
  void read_next();
  void write(std::vector<std::string> lines, bool last);

  store::Database& database_;
  std::shared_ptr<pipeline::Chain> chain_;
  std::shared_ptr<pipeline::Downstream> client_;
  const std::string since_, until_;
  std::string after_;  // the keyset cursor; touched only between pages
  bool stopped_ = false;
};

}  // namespace sluice::gateway
