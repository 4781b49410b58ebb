// The agent's write window toward the gateway: writers go on while less than 256 KiB wait, wait
// for the write that frees room otherwise, data joins the last waiting frame, and a closed call
// tells every waiting writer.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/frame_window.h"

using sluice::agent::FrameWindow;
namespace pb = sluice::agent::pb;

namespace {
pb::AgentFrame body(std::size_t n, char c = 'x') {
  pb::AgentFrame f;
  f.set_body(std::string(n, c));
  return f;
}
struct Writer {
  std::vector<bool> calls;
  FrameWindow::Accepted cb() {
    return [this](bool ok) { calls.push_back(ok); };
  }
};
}  // namespace

TEST_CASE("frame window: the first frame starts a write - small ones let the writer go on at once") {
  FrameWindow w;
  Writer a;
  auto p = w.push(body(100), a.cb());
  CHECK(p.start_write);
  REQUIRE(p.go_on);
  p.go_on(true);
  CHECK(a.calls == std::vector<bool>{true});
  auto q = w.push(body(100), a.cb());
  CHECK_FALSE(q.start_write);  // one write in flight at a time
  CHECK(q.go_on);
  CHECK(w.size() == 2);
}

TEST_CASE("frame window: past 256 KiB the writer waits for the write of the frame it filled") {
  FrameWindow w;
  Writer first, second;
  w.push(body(64 * 1024), first.cb()).go_on(true);
  auto p = w.push(body(FrameWindow::kWindowBytes), second.cb());
  CHECK_FALSE(p.go_on);  // waits
  CHECK(w.queued_bytes() >= FrameWindow::kWindowBytes);
  auto done = w.pop();  // the first frame was written: its writer had already gone on
  CHECK_FALSE(done);
  auto done2 = w.pop();
  REQUIRE(done2);
  done2(true);
  CHECK(second.calls == std::vector<bool>{true});
  CHECK(w.empty());
  CHECK(w.queued_bytes() == 0);
}

TEST_CASE("frame window: data behind the frame being written joins the last waiting frame, up to 1 MiB") {
  FrameWindow w;
  Writer x;
  w.push(body(10, 'a'), x.cb());                     // being written
  w.push(body(10, 'b'), x.cb());                     // waits
  auto p = w.push(body(10, 'c'), x.cb());            // joins the waiting one
  CHECK_FALSE(p.start_write);
  CHECK(w.size() == 2);
  w.pop();
  CHECK(w.front().body() == std::string(10, 'b') + std::string(10, 'c'));
  pb::AgentFrame end;
  end.mutable_end();
  w.push(std::move(end), x.cb());  // another kind never joins
  CHECK(w.size() == 2);
  FrameWindow big;
  big.push(body(1), x.cb());
  big.push(body(FrameWindow::kMaxCoalescedBytes - 10), x.cb());
  big.push(body(100), x.cb());  // would pass the 1 MiB message size: a frame of its own
  CHECK(big.size() == 3);
}

TEST_CASE("frame window: two writers waiting on one frame both resume - a closed call tells them false") {
  FrameWindow w;
  Writer a, b, c;
  w.push(body(1), a.cb());
  CHECK_FALSE(w.push(body(FrameWindow::kWindowBytes), a.cb()).go_on);
  CHECK_FALSE(w.push(body(10), b.cb()).go_on);  // joined the same frame: waits with it
  w.pop();
  auto both = w.pop();
  REQUIRE(both);
  both(true);
  CHECK(a.calls == std::vector<bool>{true});
  CHECK(b.calls == std::vector<bool>{true});

  w.push(body(1), c.cb()).go_on(true);
  CHECK_FALSE(w.push(body(FrameWindow::kWindowBytes), c.cb()).go_on);
  auto waiting = w.close();
  REQUIRE(waiting.size() == 1);
  waiting.front()(false);
  CHECK(c.calls == std::vector<bool>{true, false});
  CHECK(w.empty());
}
