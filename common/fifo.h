// A first-in-first-out queue that costs nothing while empty. libstdc++'s std::deque allocates
// 544 bytes when it is constructed; the gateway keeps a few queues per exchange, and an idle watch
// holds them for hours (memory per idle watch, README "Performance"). A vector with a moving head,
// compacted as it drains, keeps push and pop O(1) amortised.
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

namespace sluice::common {

template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  T& back() { return items_.back(); }
  void push_back(T item) { items_.push_back(std::move(item)); }
  template <class... A>
  T& emplace_back(A&&... args) {
    return items_.emplace_back(std::forward<A>(args)...);
  }
  void pop_front() {
    items_[head_] = T();  // release what it holds now, not at the next compaction
    if (++head_ == items_.size()) return clear_keep_nothing();
    if (head_ >= 16 && head_ * 2 >= items_.size()) {  // mostly drained: move the rest to the front
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() { clear_keep_nothing(); }
  auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() { return items_.end(); }

 private:
  // Empty again: the storage goes too, so a queue that once held a burst costs nothing at rest.
  void clear_keep_nothing() {
    std::vector<T>().swap(items_);
    head_ = 0;
  }
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace sluice::common
