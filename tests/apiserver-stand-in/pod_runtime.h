// Pods' processes: a container with a command runs as a child of the stand-in in a per-pod scratch
// directory, its output goes to a log file; exec starts further children there (pipes or a pty).
// Each runs in bubblewrap (only /usr, /etc and its own directory visible) and, when the stand-in
// is root, as nobody: a demo pod is not a root shell on the gateway's machine.
#pragma once
#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sluice::standin {

struct ChildProcess {
  pid_t pid = -1;
  int stdin_fd = -1;   // -1 when stdin was not requested
  int stdout_fd = -1;  // with a tty: the pty master (read and write)
  int stderr_fd = -1;  // -1 with a tty
  bool tty = false;
};

class PodRuntime {
 public:
  using ExitHandler = std::function<void(int exit_code)>;

  PodRuntime(boost::asio::io_context& io, std::string root);
  ~PodRuntime();

  std::string pod_dir(const std::string& ns, const std::string& pod);  // created on first use
  std::string log_path(const std::string& ns, const std::string& pod, const std::string& container) const;

  // Starts the container's command (command + args) if it has one; `on_exit` runs when it ends.
  bool start_container(const std::string& ns, const std::string& pod, const std::string& container,
                       const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                       ExitHandler on_exit);
  bool container_running(const std::string& ns, const std::string& pod, const std::string& container) const;
  void stop_pod(const std::string& ns, const std::string& pod);

  // Starts `argv` in the pod's directory. Returns nullopt and sets `error` when it cannot.
  std::optional<ChildProcess> spawn(const std::string& ns, const std::string& pod, const std::vector<std::string>& argv,
                                    bool want_stdin, bool tty, ExitHandler on_exit, std::string& error);
  void kill_process(pid_t pid);

 private:
  void wait_for_children();
  void reap();

  boost::asio::io_context& io_;
  std::string root_;
  boost::asio::signal_set sigchld_;
  std::map<pid_t, ExitHandler> exit_handlers_;
  std::map<std::string, pid_t> containers_;  // "ns/pod/container" -> pid
};

}  // namespace sluice::standin
