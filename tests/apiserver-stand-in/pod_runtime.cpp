#include "pod_runtime.h"

#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace sluice::standin {
namespace fs = std::filesystem;

namespace {
constexpr uid_t kPodUid = 65534;  // nobody: what a root stand-in runs pods as
constexpr gid_t kPodGid = 65534;

// Whether `command` names something the sandbox can run: a path (relative to the pod's directory,
// or under /usr, which the sandbox shows) or a name on PATH. The container runtime's own message
// and exit code (127) when not, as kubectl shows them.
bool runnable(const std::string& command) {
  if (command.find('/') != std::string::npos) return ::access(command.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t at = 0; at <= dirs.size();) {
    const auto end = std::min(dirs.find(':', at), dirs.size());
    const std::string candidate = dirs.substr(at, end - at) + "/" + command;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    at = end + 1;
  }
  return false;
}

// A pod's process sees /usr (read-only, with the merged-/usr links), /etc (read-only), its own
// directory as /pod, a private /tmp, /proc and /dev: nothing of the gateway's or the stand-in's
// files. It has its own PID, IPC and UTS namespaces and shares the network (port-forward).
std::vector<std::string> sandboxed(const std::string& dir, const std::vector<std::string>& argv) {
  std::vector<std::string> out = {"bwrap", "--die-with-parent", "--unshare-user", "--unshare-pid", "--unshare-ipc",
                                  "--unshare-uts", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                                  "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink",
                                  "usr/sbin", "/sbin", "--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev",
                                  "--tmpfs", "/tmp", "--bind", dir, "/pod", "--chdir", "/pod", "--setenv", "HOME", "/pod",
                                  };
  // With a tty (exec -t) the pty stays the host's /dev/pts/N, as a container sees its own pty;
  // bwrap would otherwise show it as /dev/console.
  if (::isatty(0)) out.insert(out.end(), {"--dev-bind", "/dev/pts", "/dev/pts"});
  out.push_back("--");
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

[[noreturn]] void exec_child(const std::string& dir, const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env) {
  if (::chdir(dir.c_str()) != 0) _exit(126);
  for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  if (!runnable(argv[0])) {
    std::string msg = "exec: \"" + argv[0] + "\": executable file not found in $PATH\n";
    [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
    _exit(127);
  }
  if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(kPodGid) != 0 || ::setuid(kPodUid) != 0)) {
    const std::string msg = "the stand-in could not drop to an unprivileged user for the pod\n";
    [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
    _exit(126);
  }
  const auto full = sandboxed(dir, argv);
  std::vector<char*> args;
  for (const auto& a : full) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  const std::string msg = "the stand-in runs pods in bubblewrap (bwrap), which could not start: " +
                          std::string(std::strerror(errno)) + "\n";
  [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
  _exit(126);
}

void set_cloexec_nonblock(int fd) {
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}
}  // namespace

PodRuntime::PodRuntime(boost::asio::io_context& io, std::string root)
    : io_(io), root_(std::move(root)), sigchld_(io, SIGCHLD) {
  // Objects live in memory only: files of an earlier run belong to pods that no longer exist.
  fs::remove_all(root_ + "/pods");
  fs::remove_all(root_ + "/logs");
  fs::create_directories(root_ + "/pods");
  fs::create_directories(root_ + "/logs");
  wait_for_children();
}

PodRuntime::~PodRuntime() {
  for (const auto& [key, pid] : containers_) ::kill(-pid, SIGKILL);
  for (const auto& [pid, h] : exit_handlers_) ::kill(-pid, SIGKILL);
}

std::string PodRuntime::pod_dir(const std::string& ns, const std::string& pod) {
  std::string dir = root_ + "/pods/" + ns + "/" + pod;
  fs::create_directories(dir);
  // A root stand-in runs the pod as nobody: its directory is the pod's to write.
  if (::geteuid() == 0 && ::chown(dir.c_str(), kPodUid, kPodGid) != 0) {
    // Nothing to do here: the pod's own writes there then fail and say so.
  }
  return dir;
}

std::string PodRuntime::log_path(const std::string& ns, const std::string& pod, const std::string& container) const {
  return root_ + "/logs/" + ns + "_" + pod + "_" + container + ".log";
}

bool PodRuntime::start_container(const std::string& ns, const std::string& pod, const std::string& container,
                                 const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                                 ExitHandler on_exit) {
  const std::string dir = pod_dir(ns, pod);
  const std::string log = log_path(ns, pod, container);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return false;
  if (argv.empty()) {
    ::close(log_fd);
    return false;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    exec_child(dir, argv, env);
  }
  ::close(log_fd);
  if (pid < 0) return false;
  ::setpgid(pid, pid);
  const std::string key = ns + "/" + pod + "/" + container;
  containers_[key] = pid;
  exit_handlers_[pid] = [this, key, on_exit = std::move(on_exit)](int code) {
    containers_.erase(key);
    if (on_exit) on_exit(code);
  };
  return true;
}

bool PodRuntime::container_running(const std::string& ns, const std::string& pod, const std::string& container) const {
  return containers_.count(ns + "/" + pod + "/" + container) > 0;
}

void PodRuntime::stop_pod(const std::string& ns, const std::string& pod) {
  const std::string prefix = ns + "/" + pod + "/";
  std::error_code ec;
  fs::remove_all(root_ + "/pods/" + ns + "/" + pod, ec);
  for (const auto& entry : fs::directory_iterator(root_ + "/logs", ec))
    if (entry.path().filename().string().rfind(ns + "_" + pod + "_", 0) == 0) fs::remove(entry.path(), ec);
  for (auto it = containers_.begin(); it != containers_.end();) {
    if (it->first.compare(0, prefix.size(), prefix) == 0) {
      ::kill(-it->second, SIGKILL);
      exit_handlers_.erase(it->second);  // the pod is gone: nobody to tell
      it = containers_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<ChildProcess> PodRuntime::spawn(const std::string& ns, const std::string& pod,
                                              const std::vector<std::string>& argv, bool want_stdin, bool tty,
                                              ExitHandler on_exit, std::string& error) {
  if (argv.empty()) {
    error = "you must specify at least 1 command";
    return std::nullopt;
  }
  const std::string dir = pod_dir(ns, pod);
  const std::map<std::string, std::string> env = {{"HOSTNAME", pod}, {"TERM", tty ? "xterm" : "dumb"}};
  ChildProcess child;
  child.tty = tty;
  if (tty) {
    int master = -1;
    struct winsize ws = {24, 80, 0, 0};
    pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
    if (pid < 0) {
      error = std::string("cannot allocate a terminal: ") + std::strerror(errno);
      return std::nullopt;
    }
    if (pid == 0) exec_child(dir, argv, env);
    set_cloexec_nonblock(master);
    child.pid = pid;
    child.stdout_fd = master;
    child.stdin_fd = want_stdin ? ::dup(master) : -1;
    if (child.stdin_fd >= 0) set_cloexec_nonblock(child.stdin_fd);
  } else {
    int in[2] = {-1, -1}, out[2], err[2];
    if ((want_stdin && ::pipe(in) != 0) || ::pipe(out) != 0 || ::pipe(err) != 0) {
      error = std::string("cannot create pipes: ") + std::strerror(errno);
      return std::nullopt;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      if (want_stdin) ::dup2(in[0], 0);
      else ::dup2(::open("/dev/null", O_RDONLY), 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) if (fd > 2) ::close(fd);
      exec_child(dir, argv, env);
    }
    if (want_stdin) ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (pid < 0) {
      error = std::string("cannot start the process: ") + std::strerror(errno);
      return std::nullopt;
    }
    ::setpgid(pid, pid);
    child.pid = pid;
    child.stdin_fd = want_stdin ? in[1] : -1;
    child.stdout_fd = out[0];
    child.stderr_fd = err[0];
    for (int fd : {child.stdin_fd, child.stdout_fd, child.stderr_fd}) if (fd >= 0) set_cloexec_nonblock(fd);
  }
  exit_handlers_[child.pid] = std::move(on_exit);
  return child;
}

void PodRuntime::kill_process(pid_t pid) {
  if (pid > 0) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
}

void PodRuntime::wait_for_children() {
  sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    reap();
    wait_for_children();
  });
}

void PodRuntime::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    auto it = exit_handlers_.find(pid);
    if (it == exit_handlers_.end()) continue;
    auto handler = std::move(it->second);
    exit_handlers_.erase(it);
    if (handler) handler(code);
  }
}

}  // namespace sluice::standin
