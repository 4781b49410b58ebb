#include "gateway/cli/serve_command.h"

#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <thread>

#include "common/logging.h"
#include "common/tls_certs.h"
#include "gateway/auth/client_cert_authenticator.h"
#include "gateway/auth/oidc_authenticator.h"
#include "gateway/auth/static_token_authenticator.h"
#include "gateway/notify/audit_exporter.h"
#include "gateway/notify/http_post.h"
#include "gateway/notify/outbox.h"
#include "gateway/policy/policy_loader.h"
#include "gateway/recording/recording_writer.h"
#include "gateway/server/https_server.h"
#include "gateway/server/metrics_listener.h"
#include "gateway/stages/stage_order.h"
#include "gateway/store/cluster_store.h"
#include "gateway/store/database.h"
#include "gateway/store/migrator.h"
#include "gateway/tunnel/tunnel_service.h"
#include "gateway/ui/oidc_login.h"
#include "gateway/ui/session_store.h"
#include "sluice/version.h"

namespace po = boost::program_options;
namespace net = boost::asio;

namespace sluice::gateway::cli {
namespace {

// The tunnel's view of registered clusters, kept in PostgreSQL and read through the Database's
// threads (never on the gRPC thread that asks).
class StoredAgents final : public tunnel::AgentDirectory {
 public:
  explicit StoredAgents(store::Database& db) : db_(db) {}
  void verify_agent_token(const std::string& cluster, const std::string& token,
                          std::function<void(common::Result<bool>)> done) override {
    db_.run([cluster, token](pqxx::connection& c) { return store::ClusterStore(c).verify_agent_token(cluster, token); },
            std::move(done));
  }
  void record_check_in(const std::string& cluster, const std::string& agent_version) override {
    db_.run_detached("cannot record the check-in of cluster " + cluster, [cluster, agent_version](pqxx::connection& c) {
      store::ClusterStore(c).record_check_in(cluster, agent_version);
    });
  }

 private:
  store::Database& db_;
};

// A handler that throws is a bug, but it must not let one request end the gateway for every
// client (an agent could aim for it): log it and keep serving. The request it belonged to ends
// on its own timeouts, unanswered rather than forwarded.
void run_until_stopped(net::io_context& io) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("a request handler failed and was abandoned (a bug: please report it): {}", e.what());
    }
  }
}

}  // namespace

int run_serve(const std::vector<std::string>& args) {
  po::options_description opts("Usage: sluice-gateway serve --config FILE");
  std::string config_path, log_level = "info", ready_file;
  opts.add_options()("help,h", "show this help")("config", po::value(&config_path), "configuration file (YAML)")
      ("log-level", po::value(&log_level), "trace, debug, info, warn or error")
      ("ready-file", po::value(&ready_file), "write the bound ports here as JSON once listening (for tests)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "sluice-gateway serve: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (config_path.empty()) {
    std::cerr << "sluice-gateway serve: --config FILE is required\n";
    return 2;
  }
  if (!common::setup_logging(log_level)) {
    std::cerr << "sluice-gateway serve: unknown --log-level " << log_level << "\n";
    return 2;
  }
  std::string error;
  auto config = load_gateway_config(config_path, error);
  if (!config) {
    std::cerr << "sluice-gateway serve: " << error << "\n";
    return 2;
  }
  auto tokens = config->static_tokens_file.empty() ? StaticTokenAuthenticator::parse("", error)
                                                   : StaticTokenAuthenticator::load(config->static_tokens_file, error);
  if (!tokens) {
    std::cerr << "sluice-gateway serve: auth.static_tokens_file: " << error << "\n";
    return 2;
  }
  TrustedProxies trusted_proxies;
  if (!trusted_proxies.parse(config->trusted_proxies, error)) {
    std::cerr << "sluice-gateway serve: " << error << "\n";
    return 2;
  }
  try {
    auto report = store::migrate(config->database_url, store::embedded_migrations());
    spdlog::info("database schema at version {}", report.schema_version);
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway serve: " << e.what() << "\n";
    return 1;
  }

  try {
    tunnel::TunnelRegistry registry;
    // Request handling's way to PostgreSQL (agent-token checks, recording reads, the cluster
    // directory's refresh): 3 connections, jobs queued for their threads. Declared before what
    // uses it, so it outlives them.
    store::Database database(config->database_url, 3);
    StoredAgents agent_clusters(database);
    tunnel::TunnelService service(registry, agent_clusters, 4);
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({common::read_file(config->tls.key_file), common::read_file(config->tls.cert_file)});
    grpc::ServerBuilder builder;
    int agent_port = 0;
    builder.AddListeningPort(config->agent_listen, grpc::SslServerCredentials(ssl), &agent_port);
    builder.RegisterService(&service);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
    // A larger per-stream window and frame size: bulk responses (a 100 MB list) flow without a
    // WINDOW_UPDATE round trip per 64 KiB. Still per stream, so a stalled reader holds at most this.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1 << 20);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
    builder.AddChannelArgument(GRPC_ARG_MINIMAL_STACK, 1);
    auto grpc_server = builder.BuildAndStart();
    if (!grpc_server || agent_port == 0) throw std::runtime_error("cannot listen for agents on " + config->agent_listen);

    ClusterDirectory directory(database);
    directory.start();
    Metrics metrics;
    net::io_context io;
    std::unique_ptr<audit::AuditWriter> audit_writer;
    if (config->audit.enabled) {
      audit::AuditWriterOptions audit_options;
      audit_options.database_url = config->database_url;
      audit_options.commit_timeout = std::chrono::milliseconds(config->audit.commit_timeout_ms);
      audit_options.max_batch = static_cast<std::size_t>(config->audit.max_batch);
      audit_writer = std::make_unique<audit::AuditWriter>(audit_options);
    } else {
      spdlog::warn("intent audit is OFF (audit.enabled: false): requests are forwarded without an audit row");
    }
    std::unique_ptr<audit::AuditExporter> audit_exporter;
    if (audit_writer && !config->audit.sinks.empty()) {
      std::vector<std::unique_ptr<audit::AuditEventSink>> sinks;
      for (const auto& s : config->audit.sinks) {
        if (s.type == "file") sinks.push_back(std::make_unique<audit::FileAuditSink>(s.name, s.path, s.max_bytes, s.max_files));
        else sinks.push_back(std::make_unique<audit::WebhookAuditSink>(s.name, s.url, s.ca_file, s.token_file, s.max_batch));
      }
      audit::AuditExportOptions o;
      o.database_url = config->database_url;
      o.chain_id = audit_writer->chain_id();
      o.retry_initial = std::chrono::milliseconds(config->audit.export_retry_initial_ms);
      audit_exporter = std::make_unique<audit::AuditExporter>(o, std::move(sinks));
    }
    std::unique_ptr<recording::RecordingWriter> recordings;
    std::unique_ptr<SessionsApi> sessions_api;
    if (config->recording.enabled) {
      recording::RecordingWriterOptions o;
      o.database_url = config->database_url;
      o.max_queue_bytes = config->recording.max_queue_bytes;
      if (!config->recording.retention.empty()) o.retention = *policy::parse_duration(config->recording.retention);
      o.retention_check = std::chrono::seconds(config->recording.retention_check_seconds);
      recordings = std::make_unique<recording::RecordingWriter>(o);
      sessions_api = std::make_unique<SessionsApi>(database, config->recording.viewer_groups);
    } else {
      spdlog::warn("session recording is OFF (recording.enabled: false)");
    }
    AuthenticatorChain auth;  // kube-apiserver's order: certificates, static tokens, OIDC
    if (!config->client_ca_file.empty()) auth.add(std::make_shared<ClientCertAuthenticator>());
    const std::size_t static_tokens = tokens->size();
    auth.add(std::make_shared<StaticTokenAuthenticator>(std::move(*tokens)));
    if (!config->oidc.empty()) {
      std::vector<oidc::IssuerConfig> issuers;
      for (const auto& o : config->oidc) {
        oidc::IssuerConfig ic;
        ic.rules.issuer = o.issuer;
        ic.rules.audiences = o.audiences;
        ic.rules.username_claim = o.username_claim;
        ic.rules.username_prefix = o.username_prefix;
        ic.rules.groups_claim = o.groups_claim;
        ic.rules.groups_prefix = o.groups_prefix;
        ic.rules.uid_claim = o.uid_claim;
        ic.rules.required_claims = o.required_claims;
        ic.rules.clock_skew = std::chrono::seconds(o.clock_skew_seconds);
        ic.ca_file = o.ca_file;
        ic.min_refresh = std::chrono::seconds(o.min_refresh_seconds);
        issuers.push_back(std::move(ic));
      }
      auth.add(std::make_shared<oidc::OidcAuthenticator>(std::move(issuers)));
    }
    std::unique_ptr<policy::PolicyStore> policy_store;
    std::unique_ptr<approval::ApprovalService> approvals;
    std::unique_ptr<ApprovalGate> approval_gate;
    std::unique_ptr<notify::NotificationOutbox> outbox;
    if (!config->policy.file.empty()) {
      policy_store = std::make_unique<policy::PolicyStore>(config->policy.file);  // throws: refuses to start
      approvals = std::make_unique<approval::ApprovalService>(config->database_url);
      std::vector<std::string> sink_names;
      if (!config->notifications.sinks.empty()) {
        notify::OutboxOptions o;
        o.database_url = config->database_url;
        o.max_attempts = config->notifications.max_attempts;
        o.retry_initial = std::chrono::milliseconds(config->notifications.retry_initial_ms);
        outbox = std::make_unique<notify::NotificationOutbox>(o, notify::make_sinks(config->notifications));
        sink_names = outbox->sink_names();
        spdlog::info("notifications to reviewers through {} sink(s)", sink_names.size());
      }
      approval_gate = std::make_unique<ApprovalGate>(*approvals, registry, config->notifications.review_url,
                                                     std::move(sink_names));
      approval_gate->set_max_pending(config->approvals.max_pending_per_identity);
    } else {
      spdlog::warn("no policy (policy.file): every authenticated request is forwarded");
    }
    ProxyContext ctx{*config, auth, registry, directory, metrics, audit_writer.get(), trusted_proxies,
                     policy_store.get(), approvals.get(), approval_gate.get(), recordings.get(), sessions_api.get()};
    AuditApi audit_api(database, config->audit.viewer_groups);
    ctx.audit_api = &audit_api;
    // The reviewer UI's logins last 8 hours (a shift); every gateway replica serves them.
    ui::SessionStore ui_sessions(database, 8 * 3600);
    std::vector<ui::OidcClient> ui_clients;
    for (const auto& o : config->oidc)
      if (!o.client_id.empty())
        ui_clients.push_back({o.issuer, o.client_id,
                              o.client_secret_file.empty() ? "" : notify::read_secret_file(o.client_secret_file),
                              o.ca_file, o.display_name, o.scopes});
    std::unique_ptr<ui::OidcLogin> ui_oidc;
    if (!ui_clients.empty()) ui_oidc = std::make_unique<ui::OidcLogin>(database, std::move(ui_clients));
    ui::UiServices ui_services{ui_sessions, ui_oidc.get()};
    HttpsServer https(io, ctx, [&ctx, &ui_services] { return build_stages(ctx, &ui_services); });
    https.start();
    // Where links and the identity provider send a browser back; a port of 0 is known only now.
    std::string public_url = config->public_url;
    if (public_url == "https://" + config->listen) {
      std::string host;
      unsigned short port = 0;
      split_host_port(config->listen, host, port);
      if (port == 0) public_url = "https://" + host + ":" + std::to_string(https.port());
    }
    if (ui_oidc) {
      ui_oidc->set_redirect_uri(public_url + "/ui/callback");
      spdlog::info("reviewer UI: OIDC login through {} issuer(s), redirect URI {}", ui_oidc->size(), ui_oidc->redirect_uri());
    }
    std::unique_ptr<MetricsListener> metrics_listener;
    if (!config->metrics.listen.empty()) {
      std::string host;
      unsigned short port = 0;
      split_host_port(config->metrics.listen, host, port);
      metrics_listener = std::make_unique<MetricsListener>(
          io, host, port,
          MetricsListener::Handlers{[&] { return metrics.render(registry.tunnel_stats()); },
                                    [&] { return directory.database_ok(); }});
      metrics_listener->start();
      spdlog::info("metrics on http://{}:{}/metrics", host, metrics_listener->port());
    }
    if (approval_gate && config->notifications.review_url == config->public_url && public_url != config->public_url)
      approval_gate->set_review_url(public_url);
    std::string methods;
    for (const auto& n : auth.names()) methods += (methods.empty() ? "" : ", ") + n;
    spdlog::info("sluice-gateway {} serving clients on https://{} (login: {}; {} static tokens), agents on {}",
                 kVersion, config->listen, methods, static_tokens, config->agent_listen);
    if (!ready_file.empty())
      common::write_file(ready_file, "{\"https_port\": " + std::to_string(https.port()) +
                                         ", \"agent_port\": " + std::to_string(agent_port) +
                                         (metrics_listener ? ", \"metrics_port\": " + std::to_string(metrics_listener->port()) : "") +
                                         "}\n");

    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int sig) {
      spdlog::info("signal {}: stopping", sig);
      io.stop();
    });
    std::vector<std::thread> threads;
    const unsigned n = std::max(2u, std::thread::hardware_concurrency());
    for (unsigned i = 1; i < n; ++i) threads.emplace_back([&io] { run_until_stopped(io); });
    run_until_stopped(io);
    for (auto& t : threads) t.join();
    grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace sluice::gateway::cli
