#include "gateway/approval/approval_service.h"

#include <spdlog/spdlog.h>

namespace sluice::gateway::approval {
namespace {

// Forwards every notification's payload (an approval id) to `on_id`.
class IdReceiver : public pqxx::notification_receiver {
 public:
  IdReceiver(pqxx::connection_base& c, std::function<void(const std::string&)> on_id)
      : notification_receiver(c, kNotifyChannel), on_id_(std::move(on_id)) {}
  void operator()(const std::string& payload, int) override { on_id_(payload); }

 private:
  std::function<void(const std::string&)> on_id_;
};

}  // namespace

ApprovalService::ApprovalService(std::string database_url) : url_(std::move(database_url)), store_(url_) {
  listener_ = std::thread([this] { listen(); });
}

ApprovalService::~ApprovalService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  listener_.join();
  worker_.stop();  // what is still queued returns at once: stopping_
  fail_all_waiters();
}

void ApprovalService::run(std::function<void(ApprovalStore&)> job) {
  const bool taken = worker_.post([this, job = std::move(job)](unsigned) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    job(store_);
  });
  if (!taken) spdlog::error("approvals: the approval queue is full or stopping; a job was dropped");
}

std::uint64_t ApprovalService::wait(const std::string& id, std::chrono::steady_clock::time_point deadline,
                                     Decided done) {
  std::uint64_t ticket;
  {
    std::lock_guard lock(mu_);
    ticket = ++next_ticket_;
    waiters_[id][ticket] = {deadline, std::move(done)};
  }
  // Decided before the waiter was registered (a fast reviewer): look once now.
  run([this, id](ApprovalStore&) { check(id); });
  return ticket;
}

bool ApprovalService::stop_waiting(const std::string& id, std::uint64_t ticket) {
  std::lock_guard lock(mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return true;
  it->second.erase(ticket);
  if (!it->second.empty()) return false;
  waiters_.erase(it);
  return true;
}

std::vector<ApprovalService::Decided> ApprovalService::take_waiters(const std::string& id) {
  std::lock_guard lock(mu_);
  std::vector<Decided> out;
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return out;
  for (auto& [ticket, w] : it->second) out.push_back(std::move(w.done));
  waiters_.erase(it);
  return out;
}

void ApprovalService::check(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    if (!waiters_.count(id)) return;
  }
  try {
    auto a = store_.get(id);
    if (a && a->state == "pending") return;
    for (auto& done : take_waiters(id)) done(a);
  } catch (const std::exception& e) {
    spdlog::error("approvals: cannot read approval {}: {}", id, e.what());
    for (auto& done : take_waiters(id)) done(std::nullopt);
  }
}

void ApprovalService::fail_all_waiters() {
  std::map<std::string, std::map<std::uint64_t, Waiter>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(waiters_);
  }
  for (auto& [id, ws] : all)
    for (auto& [ticket, w] : ws) w.done(std::nullopt);
}

void ApprovalService::sweep() {
  sweep_queued_ = false;
  // Approvals nobody decided in time expire (their NOTIFY ends the holds), and holds past their
  // own deadline end without a decision.
  try {
    store_.expire_due();
  } catch (const std::exception& e) {
    spdlog::warn("approvals: expiry sweep failed: {}", e.what());
  }
  std::vector<Decided> overdue;
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      for (auto w = it->second.begin(); w != it->second.end();) {
        if (w->second.deadline > now) {
          ++w;
          continue;
        }
        overdue.push_back(std::move(w->second.done));
        w = it->second.erase(w);
      }
      it = it->second.empty() ? waiters_.erase(it) : std::next(it);
    }
  }
  for (auto& done : overdue) done(std::nullopt);
}

void ApprovalService::sweep_if_due(std::chrono::steady_clock::time_point& next) {
  const auto now = std::chrono::steady_clock::now();
  if (now < next) return;
  next = now + std::chrono::seconds(1);
  if (!sweep_queued_.exchange(true)) run([this](ApprovalStore&) { sweep(); });  // one in the queue at most
}

std::uint64_t ApprovalService::subscribe(std::function<void(const std::string& id)> changed) {
  std::lock_guard lock(mu_);
  subscribers_.emplace(++next_ticket_, std::move(changed));
  return next_ticket_;
}

void ApprovalService::unsubscribe(std::uint64_t token) {
  std::lock_guard lock(mu_);
  subscribers_.erase(token);
}

void ApprovalService::tell_subscribers(const std::string& id) {
  std::vector<std::function<void(const std::string&)>> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [token, f] : subscribers_) all.push_back(f);
  }
  for (const auto& f : all) f(id);
}

void ApprovalService::listen() {
  std::chrono::milliseconds backoff{0};
  auto next_sweep = std::chrono::steady_clock::now();
  for (;;) {
    // Waits out the backoff in short steps, so the sweep keeps its second while PostgreSQL is away.
    for (auto until = std::chrono::steady_clock::now() + backoff;;) {
      sweep_if_due(next_sweep);
      std::unique_lock lock(mu_);
      const auto step = std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
      if (cv_.wait_until(lock, step, [this] { return stopping_; })) return;
      if (std::chrono::steady_clock::now() >= until) break;
    }
    try {
      pqxx::connection conn(url_);
      IdReceiver receiver(conn, [this](const std::string& id) {
        tell_subscribers(id);
        run([this, id](ApprovalStore&) { check(id); });
      });
      pqxx::nontransaction(conn).exec("SELECT 1");  // the LISTEN goes out with the first statement
      backoff = std::chrono::milliseconds{0};
      // Anything decided while no listener was connected: look at every held request once.
      std::vector<std::string> held;
      {
        std::lock_guard lock(mu_);
        for (const auto& [id, w] : waiters_) held.push_back(id);
      }
      for (const auto& id : held) run([this, id](ApprovalStore&) { check(id); });
      for (;;) {
        {
          std::lock_guard lock(mu_);
          if (stopping_) return;
        }
        sweep_if_due(next_sweep);
        conn.await_notification(0, 200000);  // returns at once when a notification arrives
      }
    } catch (const std::exception& e) {
      spdlog::error("approvals: lost the notification connection ({}); held requests are refused", e.what());
      fail_all_waiters();
      backoff = std::min(std::chrono::milliseconds{2000}, std::max(std::chrono::milliseconds{100}, backoff * 2));
    }
  }
}

}  // namespace sluice::gateway::approval
