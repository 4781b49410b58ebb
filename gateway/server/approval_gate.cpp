#include "gateway/server/approval_gate.h"

#include "gateway/masking/json_stream_masker.h"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <ctime>

#include "common/token_compare.h"
#include "gateway/approval/approval_preview.h"
#include "gateway/audit/audit_event.h"
#include "gateway/notify/approval_event.h"
#include "gateway/policy/policy_loader.h"

namespace sluice::gateway {
namespace {

namespace net = boost::asio;

bool is_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();  // nlohmann's serializer refuses invalid UTF-8
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

// Reviewers read the body as sent when it is text (JSON, YAML). A Secret's values never reach the
// approval store, and a binary body (kubectl sends built-in types as protobuf) is described
// instead; reviewers get its hash and the dry run's JSON either way.
std::string body_for_reviewers(const ApprovalAsk& ask) {
  if (ask.info.resource == "secrets") return "(a Secret: its values are not stored)";
  if (ask.body.find('\0') != std::string::npos || !is_utf8(ask.body))
    return "(" + std::to_string(ask.body.size()) + " bytes of " + ask.content_type + ")";
  // Fields the masking profile hides from clients are hidden from reviewers as well.
  if (ask.masking && ask.masking->has_fields_for(ask.info.api_group, ask.info.resource)) {
    masking::MaskScope scope;
    scope.profile = ask.masking.get();
    scope.api_group = ask.info.api_group;
    scope.resource = ask.info.resource;
    masking::JsonStreamMasker masker(scope);
    std::string masked;
    if (masker.feed(ask.body, masked) && masker.finish(masked)) return masked;
    return "(" + std::to_string(ask.body.size()) + " bytes of " + ask.content_type +
           ": not shown, it may hold fields the masking profile hides)";
  }
  return ask.body;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

constexpr const char* kStoreDown = "the approval store is unavailable; the request was not forwarded";

}  // namespace

struct ApprovalGate::Flow {
  net::any_io_executor executor;
  ApprovalAsk ask;
  approval::ApprovalRequest a;
  std::function<void(Hold)> held;
  std::function<void(ApprovalVerdict)> done;
  std::optional<approval::IdenticalApproval> identical;
  int pending = 0;  // the requester's pending approvals
  std::string error;

  void refuse(std::string message, std::string approval_id = "") {
    done({false, std::move(message), "", std::move(approval_id)});
  }
  // Runs `step` on the session's strand.
  template <class F>
  void then(F step) {
    net::post(executor, std::move(step));
  }
};

ApprovalGate::ApprovalGate(approval::ApprovalService& service, tunnel::TunnelRegistry& tunnels, std::string review_url,
                           std::vector<std::string> notification_sinks)
    : service_(service), tunnels_(tunnels), sinks_(std::move(notification_sinks)) {
  set_review_url(std::move(review_url));
}

void ApprovalGate::set_review_url(std::string url) {
  review_url_ = std::move(url);
  while (!review_url_.empty() && review_url_.back() == '/') review_url_.pop_back();
}

std::string ApprovalGate::review_link(const std::string& id) const { return review_url_ + "/ui/approvals/" + id; }

void ApprovalGate::decide(net::any_io_executor executor, ApprovalAsk ask, std::function<void(Hold)> held,
                          std::function<void(ApprovalVerdict)> done) {
  auto f = std::make_shared<Flow>();
  f->executor = std::move(executor);
  f->held = std::move(held);
  f->done = std::move(done);
  auto& a = f->a;
  a.cluster = ask.cluster;
  a.requester = ask.who;
  a.kubectl_command = ask.kubectl_command;
  a.kubectl_session = ask.kubectl_session;
  a.source_ip = ask.source_ip;
  a.user_agent = ask.user_agent.substr(0, 256);
  a.verb = ask.info.verb;
  a.api_group = ask.info.api_group;
  a.resource = ask.info.resource;
  a.subresource = ask.info.subresource;
  a.namespace_name = ask.info.namespace_name;
  a.name = ask.info.name;
  a.method = ask.method;
  a.request_uri = ask.target;
  a.body_sha256 = common::sha256_hex(ask.body);
  a.content_type = ask.content_type;
  a.content_encoding = ask.content_encoding;
  a.request_body = body_for_reviewers(ask);
  a.rule = ask.rule;
  a.message = ask.message;
  a.approver_groups = ask.spec.approvers.groups;
  a.approver_users = ask.spec.approvers.users;
  a.min_approvals = ask.spec.min_approvals;
  a.mode = policy::to_string(ask.spec.mode);
  a.timeout = ask.spec.timeout;
  f->ask = std::move(ask);
  service_.run([this, f](approval::ApprovalStore& store) {
    try {
      f->identical = store.find_identical(f->a);
      if (!f->identical) f->pending = store.pending_count(f->a.requester.user);
    } catch (const std::exception& e) {
      f->error = e.what();
    }
    f->then([this, f] { on_identical(f); });
  });
}

void ApprovalGate::on_identical(const std::shared_ptr<Flow>& f) {
  if (!f->error.empty()) {
    spdlog::error("approval store: cannot look up earlier approvals: {}", f->error);
    return f->refuse("approval required by Sluice policy rule '" + f->a.rule + "', but " + kStoreDown);
  }
  const bool async = f->ask.spec.mode == policy::ApprovalMode::async;
  if (f->identical) {
    const auto& same = *f->identical;
    switch (same.kind) {
      case approval::IdenticalApproval::Kind::claimed:
        spdlog::info("{} {} on {} for {}: approval {} (approved earlier) executes now", f->a.verb, f->a.request_uri,
                     f->a.cluster, f->a.requester.user, same.id);
        return f->done({true, "", "approved by " + same.decided_by + " (approval " + same.id + ")", same.id});
      case approval::IdenticalApproval::Kind::pending:
        if (!async) return wait(f, same.id);
        return f->refuse("approval required: id " + same.id + ", review at " + review_link(same.id) +
                             " (still pending; send the identical request again once it is approved)",
                         same.id);
      case approval::IdenticalApproval::Kind::rejected:
        // A held request asks again after a rejection, unless the rejection is moments old: then
        // this is the client retrying the refused request in another form (kubectl's SPDY fallback).
        if (async || same.recent)
          return f->refuse("rejected by " + same.decided_by + ": " + same.decision_reason, same.id);
        break;
      case approval::IdenticalApproval::Kind::expired:
        return f->refuse("approval timed out after " + policy::format_duration(f->ask.spec.timeout) + " (approval " +
                             same.id + " for the identical request moments ago, rule '" + f->a.rule +
                             "'); send it again to ask anew",
                         same.id);
    }
  }
  if (f->pending >= max_pending_) {
    // An agent must not flood reviewers: past the cap, nothing new is asked until some are decided.
    spdlog::info("{} {} on {} for {}: refused, {} approvals already pending", f->a.verb, f->a.request_uri,
                 f->a.cluster, f->a.requester.user, f->pending);
    return f->done({false,
                    f->a.requester.user + " already has " + std::to_string(f->pending) +
                        " requests waiting for approval (the limit is " + std::to_string(max_pending_) +
                        "); wait until reviewers decide some of them",
                    "", "", 429});
  }
  approval::PreviewQuestion q{f->a.cluster, f->a.requester, f->ask.info, f->ask.method, f->ask.target,
                              f->ask.content_type, f->ask.body, f->ask.masking, f->ask.audit};
  approval::build_preview(f->executor, tunnels_, std::move(q),
                          [this, f](nlohmann::json preview) { create(f, std::move(preview)); });
}

void ApprovalGate::create(const std::shared_ptr<Flow>& f, nlohmann::json preview) {
  auto& a = f->a;
  a.id = audit::new_audit_id();
  a.preview = std::move(preview);
  spdlog::info("{} {} {} on {} for {}: approval {} (rule {})", a.mode == "async" ? "asking for" : "holding", a.verb,
               a.request_uri, a.cluster, a.requester.user, a.id, a.rule);
  std::vector<approval::OutboxMessage> notifications;
  if (!sinks_.empty()) {
    approval::ApprovalRequest shown = a;  // as the store will hold it (its clock may differ by a little)
    shown.state = "pending";
    const auto now = std::chrono::system_clock::now();
    shown.created_at = rfc3339(now);
    shown.expires_at = rfc3339(now + a.timeout);
    auto event = notify::approval_event(shown, review_url_);
    for (const auto& sink : sinks_) notifications.push_back({sink, notify::kApprovalRequested, event});
  }
  service_.run([this, f, notifications = std::move(notifications)](approval::ApprovalStore& store) {
    try {
      store.create(f->a, notifications);
    } catch (const std::exception& e) {
      f->error = e.what();
    }
    f->then([this, f] {
      if (!f->error.empty()) {
        spdlog::error("approval store: cannot store approval {}: {}", f->a.id, f->error);
        return f->refuse("approval required by Sluice policy rule '" + f->a.rule + "', but " + kStoreDown);
      }
      if (f->ask.spec.mode == policy::ApprovalMode::async)
        return f->refuse("approval required: id " + f->a.id + ", review at " + review_link(f->a.id) +
                             " (send the identical request again once it is approved; rule '" + f->a.rule + "')",
                         f->a.id);
      wait(f, f->a.id);
    });
  });
}

void ApprovalGate::wait(const std::shared_ptr<Flow>& f, const std::string& id) {
  // The decision comes through LISTEN/NOTIFY; a little past the approval's own expiry the hold ends
  // in any case (the expiry sweep normally ends it first, as "expired").
  const auto deadline = std::chrono::steady_clock::now() + f->ask.spec.timeout + std::chrono::seconds(5);
  const auto ticket = service_.wait(id, deadline, [this, f, id](std::optional<approval::ApprovalRequest> r) {
    f->then([this, f, id, r = std::move(r)] { on_decided(f, id, r); });
  });
  f->held({id, ticket});
}

void ApprovalGate::on_decided(const std::shared_ptr<Flow>& f, const std::string& id,
                              const std::optional<approval::ApprovalRequest>& r) {
  if (!r) return f->refuse("approval " + id + " could not be decided: " + kStoreDown, id);
  if (r->state == "rejected") return f->refuse("rejected by " + r->decided_by + ": " + r->decision_reason, id);
  if (r->state == "expired")
    return f->refuse("approval timed out after " + policy::format_duration(f->ask.spec.timeout) + " (approval " + id +
                         ", rule '" + f->a.rule + "')",
                     id);
  if (r->state != "approved")
    return f->refuse("approval " + id + " is " + r->state + "; the request was not forwarded", id);
  // Approved: claim the one execution it authorises, then the request goes on exactly as it came.
  const std::string approvers = r->decided_by;
  service_.run([f, id, approvers](approval::ApprovalStore& store) {
    int claimed = -1;
    try {
      claimed = store.claim_execution(id) ? 1 : 0;
    } catch (const std::exception& e) {
      spdlog::error("approval store: cannot claim approval {}: {}", id, e.what());
    }
    f->then([f, id, approvers, claimed] {
      if (claimed == 1) return f->done({true, "", "approved by " + approvers + " (approval " + id + ")", id});
      f->refuse(claimed == 0 ? "approval " + id + " was already executed"
                             : "approval " + id + " could not be claimed: " + kStoreDown,
                id);
    });
  });
}

void ApprovalGate::client_gone(const Hold& hold) {
  if (!service_.stop_waiting(hold.id, hold.ticket)) return;  // an identical retry still waits for it
  service_.run([id = hold.id](approval::ApprovalStore& store) {
    try {
      store.cancel(id);
      spdlog::info("approval {}: cancelled (the held client went away)", id);
    } catch (const std::exception& e) {
      spdlog::warn("approval {}: could not be cancelled: {}", id, e.what());
    }
  });
}

}  // namespace sluice::gateway
