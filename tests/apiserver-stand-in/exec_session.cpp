#include "exec_session.h"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>
#include <sys/ioctl.h>
#include <termios.h>

#include <array>
#include <deque>
#include <optional>
#include <sstream>

namespace sluice::standin {
namespace net = boost::asio;

namespace {
constexpr char kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4;
constexpr unsigned char kClose = 255;

class ExecSession : public std::enable_shared_from_this<ExecSession> {
 public:
  ExecSession(net::io_context& io, PodRuntime& rt, std::shared_ptr<Transport> t, ExecRequest req)
      : io_(io), runtime_(rt), transport_(std::move(t)), req_(std::move(req)), delay_(io) {}

  void start() {
    // A container runtime starts the command some milliseconds after the upgrade; client-go
    // drops channel data that arrives before it has registered its streams, so a stand-in that
    // answered faster than any real node would lose output that a cluster never loses.
    delay_.expires_after(std::chrono::milliseconds(30));
    delay_.async_wait([self = shared_from_this()](const boost::system::error_code&) { self->spawn(); });
  }

 private:
  void spawn() {
    std::weak_ptr<ExecSession> weak = weak_from_this();
    std::string error;
    auto child = runtime_.spawn(req_.ns, req_.pod, req_.command, req_.stdin, req_.tty,
                                [weak](int code) {
                                  if (auto self = weak.lock()) self->on_exit(code);
                                },
                                error);
    transport_->start([self = shared_from_this()](std::string msg) { self->on_message(std::move(msg)); },
                      [self = shared_from_this()]() { self->on_transport_closed(); });
    if (!child) {
      nlohmann::json st = {{"metadata", nlohmann::json::object()}, {"status", "Failure"},
                           {"message", "failed to start the command: " + error}, {"reason", "InternalError"}};
      transport_->send(std::string(1, kError) + st.dump());
      transport_->close();
      return;
    }
    child_ = *child;
    if (req_.protocol == "v5.channel.k8s.io" || req_.protocol == "v4.channel.k8s.io") {
      // Both announce nothing up front; stream data flows as the command writes it.
    }
    if (child_.stdin_fd >= 0) stdin_.emplace(io_, child_.stdin_fd);
    if (child_.stdout_fd >= 0) {
      stdout_.emplace(io_, child_.stdout_fd);
      ++open_outputs_;
      read_output(*stdout_, kStdout, out_buf_);
    }
    if (child_.stderr_fd >= 0) {
      stderr_.emplace(io_, child_.stderr_fd);
      ++open_outputs_;
      read_output(*stderr_, kStderr, err_buf_);
    }
  }

  void on_message(std::string msg) {
    if (msg.empty() || finished_) return;
    const unsigned char channel = static_cast<unsigned char>(msg[0]);
    std::string payload = msg.substr(1);
    if (channel == kStdin) {
      if (!stdin_) return;
      stdin_queue_.push_back(std::move(payload));
      if (!writing_stdin_) write_stdin();
    } else if (channel == kResize) {
      auto size = nlohmann::json::parse(payload, nullptr, false);
      if (child_.tty && size.is_object()) {
        struct winsize ws{};
        ws.ws_col = static_cast<unsigned short>(size.value("Width", 80));
        ws.ws_row = static_cast<unsigned short>(size.value("Height", 24));
        ::ioctl(child_.stdout_fd, TIOCSWINSZ, &ws);
      }
    } else if (channel == kClose && req_.protocol == "v5.channel.k8s.io") {
      if (!payload.empty() && payload[0] == kStdin) {
        stdin_close_requested_ = true;
        if (!writing_stdin_) close_stdin();
      }
    }
  }

  void write_stdin() {
    if (stdin_queue_.empty()) {
      writing_stdin_ = false;
      if (stdin_close_requested_) close_stdin();
      return;
    }
    writing_stdin_ = true;
    net::async_write(*stdin_, net::buffer(stdin_queue_.front()),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->stdin_queue_.pop_front();
                       if (ec) {
                         self->stdin_queue_.clear();
                         self->writing_stdin_ = false;
                         return;
                       }
                       self->write_stdin();
                     });
  }

  void close_stdin() {
    if (!stdin_) return;
    if (child_.tty) {
      // A terminal has no half-close: send EOF the way a terminal user would.
      static const char eot = 4;
      boost::system::error_code ec;
      net::write(*stdin_, net::buffer(&eot, 1), ec);
      return;
    }
    boost::system::error_code ec;
    stdin_->close(ec);
    stdin_.reset();
  }

  void read_output(net::posix::stream_descriptor& sd, char channel, std::array<char, 32768>& buf) {
    sd.async_read_some(net::buffer(buf), [self = shared_from_this(), &sd, channel, &buf](boost::system::error_code ec,
                                                                                         std::size_t n) {
      const bool wanted = channel == kStdout ? self->req_.stdout : self->req_.stderr;
      if (n > 0 && wanted && !self->transport_closed_)
        self->transport_->send(std::string(1, channel) + std::string(buf.data(), n));
      if (ec) {  // EOF, or EIO on a pty whose child has gone
        --self->open_outputs_;
        self->maybe_finish();
        return;
      }
      self->read_output(sd, channel, buf);
    });
  }

  void on_exit(int code) {
    exit_code_ = code;
    maybe_finish();
  }

  void maybe_finish() {
    if (finished_ || !exit_code_ || open_outputs_ > 0) return;
    finished_ = true;
    transport_->send(std::string(1, kError) + exec_exit_status(req_.command, *exit_code_));
    transport_->close();
    release();
  }

  void on_transport_closed() {
    transport_closed_ = true;
    if (!finished_) {
      finished_ = true;
      runtime_.kill_process(child_.pid);
    }
    release();
  }

  void release() {
    boost::system::error_code ec;
    if (stdin_) stdin_->close(ec);
    if (stdout_ && open_outputs_ == 0) stdout_->close(ec);
    if (stderr_ && open_outputs_ == 0) stderr_->close(ec);
  }

  net::io_context& io_;
  PodRuntime& runtime_;
  std::shared_ptr<Transport> transport_;
  ExecRequest req_;
  ChildProcess child_;
  std::optional<net::posix::stream_descriptor> stdin_, stdout_, stderr_;
  std::array<char, 32768> out_buf_{}, err_buf_{};
  std::deque<std::string> stdin_queue_;
  bool writing_stdin_ = false, stdin_close_requested_ = false, finished_ = false, transport_closed_ = false;
  int open_outputs_ = 0;
  std::optional<int> exit_code_;
  boost::asio::steady_timer delay_;
};
}  // namespace

void start_exec_session(net::io_context& io, PodRuntime& runtime, std::shared_ptr<Transport> transport,
                        ExecRequest request) {
  std::make_shared<ExecSession>(io, runtime, std::move(transport), std::move(request))->start();
}

std::string choose_channel_protocol(const std::string& offered) {
  std::vector<std::string> offers;
  std::stringstream ss(offered);
  for (std::string p; std::getline(ss, p, ',');) {
    auto b = p.find_first_not_of(' '), e = p.find_last_not_of(' ');
    if (b != std::string::npos) offers.push_back(p.substr(b, e - b + 1));
  }
  for (const char* want : {"v5.channel.k8s.io", "v4.channel.k8s.io"})
    for (const auto& o : offers)
      if (o == want) return o;
  return "";
}

std::string exec_exit_status(const std::vector<std::string>& command, int exit_code) {
  if (exit_code == 0) return R"({"metadata":{},"status":"Success"})";
  std::string cmd;
  for (const auto& c : command) cmd += (cmd.empty() ? "" : " ") + c;
  nlohmann::json st = {
      {"metadata", nlohmann::json::object()},
      {"status", "Failure"},
      {"message", "command terminated with non-zero exit code: error executing command [" + cmd +
                      "], exit code " + std::to_string(exit_code)},
      {"reason", "NonZeroExitCode"},
      {"details", {{"causes", {{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}}}}}};
  return st.dump();
}

}  // namespace sluice::standin
