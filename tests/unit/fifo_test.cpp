// The queue the gateway keeps per exchange: first in, first out across bursts and drains.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "common/fifo.h"

using sluice::common::Fifo;

TEST_CASE("fifo: items come out in order across bursts, partial drains and compaction") {
  Fifo<std::string> q;
  CHECK(q.empty());
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 37; ++i) q.push_back(std::to_string(next_in++));
    for (int i = 0; i < 29; ++i) {  // the queue never empties: compaction must keep the order
      REQUIRE_FALSE(q.empty());
      CHECK(q.front() == std::to_string(next_out++));
      q.pop_front();
    }
  }
  CHECK(q.size() == static_cast<std::size_t>(next_in - next_out));
  int seen = next_out;
  for (auto& s : q) CHECK(s == std::to_string(seen++));
  CHECK(q.back() == std::to_string(next_in - 1));
  while (!q.empty()) {
    CHECK(q.front() == std::to_string(next_out++));
    q.pop_front();
  }
  CHECK(next_out == next_in);
  q.emplace_back("again");
  CHECK(q.size() == 1);
  q.clear();
  CHECK(q.empty());
  CHECK(q.begin() == q.end());
}

TEST_CASE("fifo: a popped item is released at once") {
  Fifo<std::shared_ptr<int>> q;
  auto held = std::make_shared<int>(1);
  std::weak_ptr<int> watch = held;
  q.push_back(std::move(held));
  q.push_back(std::make_shared<int>(2));
  q.pop_front();
  CHECK(watch.expired());
  CHECK(*q.front() == 2);
}
