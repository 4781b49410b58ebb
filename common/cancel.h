// A way to call off work in flight (a lookup through the tunnel, a wait for a commit) when its
// requester went away. Boost 1.74's Asio has no cancellation slots, so work registers what undoes
// it here; cancel() runs each once. Shared between the one who may cancel and the work.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace sluice::common {

class CancelToken {
 public:
  // Runs every registered hook, once; later registrations run at once.
  void cancel() {
    std::vector<std::function<void()>> hooks;
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      hooks.swap(hooks_);
    }
    for (auto& h : hooks) h();
  }
  bool cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }
  void on_cancel(std::function<void()> hook) {
    {
      std::lock_guard lock(mu_);
      if (!cancelled_) return hooks_.push_back(std::move(hook));
    }
    hook();
  }

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::vector<std::function<void()>> hooks_;
};

using Cancel = std::shared_ptr<CancelToken>;
inline Cancel make_cancel() { return std::make_shared<CancelToken>(); }

}  // namespace sluice::common
