// sluice-gateway's configuration file (YAML); the struct mirrors the keys one to one.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::gateway {

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;  // the CA that signed cert_file: embedded in kubeconfigs and agent set-ups
  // A TLS server name <cluster>.<suffix> names a cluster: its requests need no /clusters/<name>
  // prefix (kubectl get --raw /version drops it). cert_file must cover *.<suffix>.
  std::string cluster_name_suffix = "clusters.sluice.internal";
};

struct Limits {
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 3 * 1024 * 1024;  // kube-apiserver's own request limit
  int header_timeout_seconds = 10;
  int idle_timeout_seconds = 120;
  int exchange_wait_seconds = 10;  // how long a request waits for a free tunnel exchange
  // HTTP/2 (server/http2_session.h): streams one connection may have open at once (kube-apiserver's
  // --http2-max-streams-per-connection is 1000), and how many streams a client may reset before
  // they were answered within 10 s before its connection is closed (rapid reset, CVE-2023-44487).
  std::uint32_t http2_max_concurrent_streams = 1000;
  std::uint32_t http2_max_early_resets = 200;
};

// One trusted OIDC issuer, as kube-apiserver's structured authentication configuration has it.
struct OidcIssuerSettings {
  std::string issuer;                  // https URL; "iss" must equal it exactly
  std::vector<std::string> audiences;  // at least one
  std::string username_claim = "sub";
  std::string username_prefix;         // default: "<issuer>#" unless the claim is "email"; "-" = none
  std::string groups_claim;
  std::string groups_prefix;
  std::string uid_claim;
  std::map<std::string, std::string> required_claims;
  std::string ca_file;                 // CA bundle for the issuer's HTTPS ("" = the system's)
  int clock_skew_seconds = 60;
  int min_refresh_seconds = 10;        // unknown key ids fetch the JWKS again at most this often
  // The reviewer UI's login through this issuer (authorization code with PKCE, redirect to
  // <public_url>/ui/callback); "" = no UI login here. client_id must be one of `audiences`, since
  // the ID token's aud is the client id.
  std::string client_id;
  std::string client_secret_file;      // first line: the client's secret ("" = a public client)
  std::vector<std::string> scopes = {"openid", "email", "profile"};
  std::string display_name;            // the login button's words (default: the issuer URL)
};

// Where audit events go besides PostgreSQL (gateway/notify/audit_exporter.h). `type`: file (JSON
// lines, rotated at max_bytes, max_files kept) or webhook (EventList batches, POST).
struct AuditSinkSettings {
  std::string name;  // unique: the export cursors name their sink
  std::string type;
  std::string path;                          // file
  std::uint64_t max_bytes = 100u << 20;      // file
  int max_files = 5;                         // file
  std::string url, ca_file, token_file;      // webhook (token_file: a bearer token, optional)
  int max_batch = 400;                       // webhook: events per POST
};

// The intent audit (gateway/audit/): every request's row is committed before it is forwarded.
struct AuditConfig {
  bool enabled = true;           // false only for the benchmark's audit-off run
  int commit_timeout_ms = 2000;  // no commit within this: 503, nothing forwarded
  int max_batch = 512;           // rows per group-commit transaction
  std::vector<AuditSinkSettings> sinks;
  int export_retry_initial_ms = 1000;  // backoff after a failed delivery, doubling to 5 min
  std::vector<std::string> viewer_groups = {"sluice-auditors", "sluice-reviewers"};  // REST API and UI readers
};

// The policy (gateway/policy/): which requests flow, wait for approval, or are refused.
struct PolicySettings {
  std::string file;  // reloaded when it changes; empty: no policy, every authenticated request flows
};

// One place reviewers hear of a new approval (gateway/notify/). `type`: webhook (JSON, signed with
// HMAC-SHA256 when secret_file is set), slack (an incoming-webhook URL, Block Kit message) or
// email (SMTP through libcurl: smtp:// or smtps:// URL).
struct NotificationSinkSettings {
  std::string name;           // unique: outbox rows name their sink
  std::string type;
  std::string url;            // or url_file (a Slack webhook URL is a secret)
  std::string url_file;
  std::string secret_file;    // webhook: the HMAC key
  std::string ca_file;        // "" = the system's CAs
  std::string from;           // email
  std::vector<std::string> to;
  std::string username, password_file;  // email: SMTP AUTH (optional)
};

struct NotificationSettings {
  std::string review_url;     // links in messages (default: public_url)
  int max_attempts = 12;      // then the row is marked failed
  int retry_initial_ms = 1000;  // backoff after the first failure, doubling to 5 min
  std::vector<NotificationSinkSettings> sinks;
};

// Session recording (gateway/recording/): every exchange as the client saw it, in PostgreSQL.
struct RecordingConfig {
  bool enabled = true;
  std::uint64_t max_body_bytes = 0;  // stored per exchange and direction; 0 = everything (the size
                                     // and SHA-256 of the whole body are kept either way)
  std::string retention;             // "30d", "12h": older recordings are deleted; "" = kept
  int retention_check_seconds = 600;
  std::size_t max_queue_bytes = 64u << 20;  // beyond this, recording data is dropped (and marked)
  std::vector<std::string> viewer_groups = {"sluice-reviewers", "sluice-auditors"};  // REST API readers
};

// Held requests (gateway/approval/): who may read them besides their requester and the rule's
// approvers, and how many one identity may have waiting at once (more: 429).
struct ApprovalSettings {
  std::vector<std::string> viewer_groups = {"sluice-auditors"};
  int max_pending_per_identity = 20;
};

// Prometheus metrics (gateway/pipeline/metrics.h). By default /metrics is open on the client
// listener, as kube-apiserver's is to anyone RBAC lets in; `authenticate` lets only members of
// `groups` read it there, and `listen` moves it (with /healthz and /readyz) to a plain-HTTP
// listener of its own, where the client listener no longer serves it.
struct MetricsSettings {
  std::string listen;
  bool authenticate = false;
  std::vector<std::string> groups = {"sluice-metrics", "sluice-auditors", "sluice-reviewers"};
};

struct GatewayConfig {
  std::string listen = "127.0.0.1:8443";
  bool http2 = true;       // offer h2 in ALPN next to http/1.1 (client-go takes it)
  std::string public_url;  // default: https://<listen>
  std::string agent_listen = "127.0.0.1:8444";
  TlsFiles tls;
  std::string database_url;
  std::string static_tokens_file;  // kube-apiserver --token-auth-file format: token,user,uid,"g1,g2"
  std::string client_ca_file;      // client certificates signed by these CAs log in as CN, groups O
  std::vector<OidcIssuerSettings> oidc;
  Limits limits;
  AuditConfig audit;
  PolicySettings policy;
  NotificationSettings notifications;
  ApprovalSettings approvals;
  MetricsSettings metrics;
  RecordingConfig recording;
  std::vector<std::string> trusted_proxies;  // addresses/CIDRs whose X-Forwarded-For is believed
};

// nullopt with `error` naming the file, key and problem when the file is unusable.
std::optional<GatewayConfig> load_gateway_config(const std::string& path, std::string& error);

// "host:port" -> {host, port}; false when malformed.
bool split_host_port(const std::string& text, std::string& host, unsigned short& port);

}  // namespace sluice::gateway
