// Pods as a kubelet would run them: container processes and their status, logs, exec, attach, port-forward.
#include <boost/asio/steady_timer.hpp>

#include <fstream>
#include <sstream>

#include "api_server.h"
#include "exec_session.h"
#include "port_forward.h"
#include "websocket_port_forward.h"

namespace sluice::standin {
namespace {
using json = nlohmann::json;

std::vector<std::string> container_argv(const json& c) {
  std::vector<std::string> argv;
  for (const char* f : {"command", "args"})
    if (c.contains(f) && c[f].is_array())
      for (const auto& a : c[f]) argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
  return argv;
}

std::string read_from(const std::string& path, std::uint64_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(static_cast<std::streamoff>(offset));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail_lines(const std::string& text, long long n) {
  if (n < 0) return text;
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (long long i = 0; i < n; ++i) {
    auto nl = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
    if (i + 1 == n) return text.substr(pos + 1);
  }
  return n == 0 ? "" : text;
}

bool is_upgrade_to(const HttpRequest& req, const std::string& proto) {
  std::string up = req.header("upgrade");
  for (auto& c : up) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return up.find(proto) != std::string::npos;
}

// Follows a container's log file and sends what is appended until the container stops.
class LogFollower : public std::enable_shared_from_this<LogFollower> {
 public:
  LogFollower(boost::asio::io_context& io, PodRuntime& rt, std::string path, std::string ns, std::string pod,
              std::string container, std::uint64_t offset, std::function<void(std::string)> emit,
              std::function<void()> done)
      : timer_(io), rt_(rt), path_(std::move(path)), ns_(std::move(ns)), pod_(std::move(pod)),
        container_(std::move(container)), offset_(offset), emit_(std::move(emit)), done_(std::move(done)) {}

  void start() { tick(); }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  void tick() {
    if (stopped_) return;
    std::string data = read_from(path_, offset_);
    offset_ += data.size();
    if (!data.empty()) emit_(std::move(data));
    else if (!rt_.container_running(ns_, pod_, container_)) return done_();
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }

  boost::asio::steady_timer timer_;
  PodRuntime& rt_;
  std::string path_, ns_, pod_, container_;
  std::uint64_t offset_;
  std::function<void(std::string)> emit_;
  std::function<void()> done_;
  bool stopped_ = false;
};

// A container of the pod by name: its containers, then its ephemeral (debug) containers.
const json* find_container(const json& pod, const std::string& name) {
  auto spec = pod.find("spec");
  if (spec == pod.end() || !spec->is_object()) return nullptr;
  for (const char* list : {"containers", "ephemeralContainers"}) {
    auto it = spec->find(list);
    if (it == spec->end() || !it->is_array()) continue;
    for (const auto& c : *it)
      if (c.is_object() && c.value("name", std::string()) == name) return &c;
  }
  return nullptr;
}

json terminated_state(const json& status, int code, const std::string& now) {
  const json started = status["state"].value("running", json::object()).value("startedAt", json(now));
  return {{"terminated", {{"exitCode", code}, {"reason", code == 0 ? "Completed" : "Error"}, {"startedAt", started},
                          {"finishedAt", now}, {"containerID", status["containerID"]}}}};
}

json running_status(const json& pod, const json& c) {
  return {{"name", c["name"]},
          {"image", c["image"]},
          {"imageID", "docker.io/library/" + c["image"].get<std::string>()},
          {"containerID", "standin://" + pod["metadata"]["uid"].get<std::string>() + "-" + c["name"].get<std::string>()},
          {"ready", true},
          {"started", true},
          {"restartCount", 0},
          {"state", {{"running", {{"startedAt", now_rfc3339()}}}}}};
}
}  // namespace

void ApiServer::set_pod_running_status(json& pod) {
  const std::string now = now_rfc3339();
  json statuses = json::array();
  for (const auto& c : pod["spec"]["containers"]) statuses.push_back(running_status(pod, c));
  auto cond = [&](const char* type) {
    return json{{"type", type}, {"status", "True"}, {"lastProbeTime", nullptr}, {"lastTransitionTime", now}};
  };
  json& st = pod["status"];
  st["phase"] = "Running";
  st["conditions"] = json::array({cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"),
                                   cond("ContainersReady"), cond("PodScheduled")});
  st["containerStatuses"] = statuses;
  st["startTime"] = now;
}

void ApiServer::start_container(const std::string& ns, const std::string& pod, const json& c) {
  auto argv = container_argv(c);
  if (argv.empty()) return;  // no command: the container "runs" until the pod is deleted
  std::map<std::string, std::string> env = {{"HOSTNAME", pod}};
  for (const auto& e : c.value("env", json::array()))
    if (e.contains("value")) env[e["name"]] = e["value"].is_string() ? e["value"].get<std::string>() : e["value"].dump();
  const std::string cname = c["name"];
  runtime_.start_container(ns, pod, cname, argv, env,
                           [this, ns, pod, cname](int code) { on_container_exit(ns, pod, cname, code); });
}

void ApiServer::start_pod(const std::string& ns, const std::string& name) {
  const json* stored = store_.get("pods", ns, name);
  if (!stored) return;
  json pod = *stored;
  runtime_.pod_dir(ns, name);
  set_pod_running_status(pod);
  for (const auto& c : pod["spec"]["containers"]) start_container(ns, name, c);
  const auto rv = store_.next_rv();
  pod["metadata"]["resourceVersion"] = std::to_string(rv);
  store_.put("pods", ns, name, std::move(pod), rv);
}

json ApiServer::start_ephemeral_containers(const std::string& ns, const std::string& name) {
  const json* stored = store_.get("pods", ns, name);
  if (!stored) return json::object();
  json pod = *stored;
  json& statuses = pod["status"]["ephemeralContainerStatuses"];
  if (!statuses.is_array()) statuses = json::array();
  std::vector<json> started;
  for (const auto& c : pod["spec"].value("ephemeralContainers", json::array())) {
    bool known = false;
    for (const auto& st : statuses) known = known || st["name"] == c["name"];
    if (known) continue;
    statuses.push_back(running_status(pod, c));
    started.push_back(c);
  }
  if (started.empty()) return pod;
  runtime_.pod_dir(ns, name);
  const auto rv = store_.next_rv();
  pod["metadata"]["resourceVersion"] = std::to_string(rv);
  store_.put("pods", ns, name, pod, rv);
  // Started after the status is stored, so a command that ends at once finds its status to end.
  for (const auto& c : started) start_container(ns, name, c);
  return pod;
}

void ApiServer::on_container_exit(const std::string& ns, const std::string& pod_name, const std::string& container, int code) {
  const json* stored = store_.get("pods", ns, pod_name);
  if (!stored) return;
  json pod = *stored;
  const std::string now = now_rfc3339();
  // An ephemeral container's end leaves the pod as it is.
  for (auto& cs : pod["status"].value("ephemeralContainerStatuses", json::array()))
    if (cs["name"] == container) {
      for (auto& st : pod["status"]["ephemeralContainerStatuses"])
        if (st["name"] == container) {
          st["ready"] = false;
          st["started"] = false;
          st["state"] = terminated_state(st, code, now);
        }
      const auto rv = store_.next_rv();
      pod["metadata"]["resourceVersion"] = std::to_string(rv);
      store_.put("pods", ns, pod_name, std::move(pod), rv);
      return;
    }
  bool all_done = true, all_ok = true;
  for (auto& cs : pod["status"]["containerStatuses"]) {
    if (cs["name"] == container) {
      cs["ready"] = false;
      cs["started"] = false;
      cs["state"] = terminated_state(cs, code, now);
    }
    if (!cs["state"].contains("terminated")) all_done = false;
    else if (cs["state"]["terminated"].value("exitCode", 0) != 0) all_ok = false;
  }
  // No restarts in the stand-in: a pod whose containers all ended is finished.
  if (all_done) {
    pod["status"]["phase"] = all_ok ? "Succeeded" : "Failed";
    for (auto& c : pod["status"]["conditions"])
      if (c["type"] == "Ready" || c["type"] == "ContainersReady") {
        c["status"] = "False";
        c["reason"] = "PodCompleted";
        c["lastTransitionTime"] = now;
      }
  }
  const auto rv = store_.next_rv();
  pod["metadata"]["resourceVersion"] = std::to_string(rv);
  store_.put("pods", ns, pod_name, std::move(pod), rv);
}

void ApiServer::do_log(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp) {
  const ResourceType& pods = *catalog_.find("", "v1", "pods");
  const json* pod = store_.get("pods", rp.ns, rp.name);
  if (!pod) return not_found(s, pods, rp.name);
  std::string container = req.param("container");
  const auto& containers = (*pod)["spec"]["containers"];
  if (container.empty()) {
    if (containers.size() != 1) {
      std::string names;
      for (const auto& c : containers) names += (names.empty() ? "" : " ") + c["name"].get<std::string>();
      return fail(s, 400, "a container name must be specified for pod " + rp.name + ", choose one of: [" + names + "]", "BadRequest");
    }
    container = containers[0]["name"];
  }
  if (!find_container(*pod, container)) return fail(s, 400, "container " + container + " is not valid for pod " + rp.name, "BadRequest");

  const std::string path = runtime_.log_path(rp.ns, rp.name, container);
  std::string text = read_from(path, 0);
  const std::uint64_t offset = text.size();
  if (req.has_param("tailLines")) text = tail_lines(text, std::strtoll(req.param("tailLines").c_str(), nullptr, 10));
  if (req.has_param("limitBytes")) {
    const auto limit = std::strtoull(req.param("limitBytes").c_str(), nullptr, 10);
    if (text.size() > limit) text.resize(limit);
  }
  if (!req.param_bool("follow")) return s->respond(200, "text/plain", std::move(text));

  s->start_stream(200, "text/plain");
  s->write_chunk(std::move(text));
  std::weak_ptr<HttpSession> weak = s;
  auto follower = std::make_shared<LogFollower>(
      io_, runtime_, path, rp.ns, rp.name, container, offset,
      [weak](std::string data) {
        if (auto session = weak.lock()) session->write_chunk(std::move(data));
      },
      [weak]() {
        if (auto session = weak.lock()) session->end_stream();
      });
  s->on_disconnect([follower]() { follower->stop(); });
  follower->start();
}

void ApiServer::do_exec(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp, bool attach) {
  const ResourceType& pods = *catalog_.find("", "v1", "pods");
  const json* pod = store_.get("pods", rp.ns, rp.name);
  if (!pod) return not_found(s, pods, rp.name);
  std::string container = req.param("container");
  if (container.empty()) container = (*pod)["spec"]["containers"][0]["name"];
  if (!find_container(*pod, container)) return fail(s, 400, "container " + container + " is not valid for pod " + rp.name, "BadRequest");
  if ((*pod)["status"].value("phase", "") != "Running")
    return fail(s, 400, "cannot exec into a container in a completed pod; current phase is " +
                            (*pod)["status"].value("phase", std::string("Unknown")), "BadRequest");
  ExecRequest er;
  er.ns = rp.ns;
  er.pod = rp.name;
  er.container = container;
  for (auto [it, end] = req.query.equal_range("command"); it != end; ++it) er.command.push_back(it->second);
  er.stdin = req.param_bool("stdin");
  er.tty = req.param_bool("tty");
  // stdout and stderr default to true for exec and attach when not given (kubectl always sends them)
  er.stdout = !req.has_param("stdout") || req.param_bool("stdout");
  er.stderr = !req.has_param("stderr") || req.param_bool("stderr");
  if (!attach && er.command.empty()) return fail(s, 400, "you must specify at least 1 command", "BadRequest");
  if (!is_upgrade_to(req, "websocket"))
    return fail(s, 400, "Upgrade request required: the stand-in serves exec and attach over WebSocket "
                        "(v5.channel.k8s.io, v4.channel.k8s.io)", "BadRequest");
  er.protocol = choose_channel_protocol(req.header("sec-websocket-protocol"));
  if (er.protocol.empty())
    return fail(s, 400, "unable to upgrade connection: none of the offered subprotocols (" +
                            req.header("sec-websocket-protocol") + ") is supported; use v5.channel.k8s.io or v4.channel.k8s.io",
                "BadRequest");
  if (attach) {
    // As kubelet: a container that has ended has no streams to attach to (kubectl debug then
    // falls back to its log).
    for (const char* list : {"containerStatuses", "ephemeralContainerStatuses"})
      for (const auto& st : (*pod)["status"].value(list, json::array()))
        if (st.value("name", std::string()) == container && st["state"].contains("terminated"))
          return fail(s, 400, "unable to upgrade connection: container " + container + " in pod " + rp.name +
                                  " is not running", "BadRequest");
    // Attach shows the container's output from now on; for the stand-in that is its log.
    const std::string path = runtime_.log_path(rp.ns, rp.name, container);
    const std::uint64_t offset = read_from(path, 0).size();
    const std::string ns = rp.ns, name = rp.name;
    s->accept_websocket(er.protocol, [this, path, offset, ns, name, container](std::shared_ptr<Transport> t) {
      auto follower = std::make_shared<LogFollower>(
          io_, runtime_, path, ns, name, container, offset,
          [t](std::string data) { t->send(std::string(1, '\x01') + data); },
          [t]() {
            t->send(std::string(1, '\x03') + R"({"metadata":{},"status":"Success"})");
            t->close();
          });
      t->start([](std::string) {}, [follower]() { follower->stop(); });
      follower->start();
    });
    return;
  }
  s->accept_websocket(er.protocol, [this, er](std::shared_ptr<Transport> t) {
    start_exec_session(io_, runtime_, std::move(t), er);
  });
}

void ApiServer::do_portforward(const SessionPtr& s, HttpRequest& req, const ResourcePath& rp) {
  const ResourceType& pods = *catalog_.find("", "v1", "pods");
  if (!store_.get("pods", rp.ns, rp.name)) return not_found(s, pods, rp.name);
  // Every pod port is the stand-in's echo server: what goes in comes back.
  const unsigned short echo = config_.echo_port;
  auto target = [echo](unsigned short) { return echo; };
  if (is_upgrade_to(req, "websocket")) {
    const std::string offered = req.header("sec-websocket-protocol");
    if (offered.find("SPDY/3.1+portforward.k8s.io") != std::string::npos)  // kubectl >= 1.31: SPDY inside
      return s->accept_websocket("SPDY/3.1+portforward.k8s.io", [this, target](std::shared_ptr<Transport> t) {
        start_port_forward_session(io_, std::move(t), target);
      });
    // The channel protocol other clients speak (client-node, the Python client).
    std::string protocol;
    for (const char* p : {"v4.channel.k8s.io", "portforward.k8s.io"})
      if (protocol.empty() && offered.find(p) != std::string::npos) protocol = p;
    if (protocol.empty())
      return fail(s, 400, "unable to upgrade connection: port-forward over WebSocket needs the "
                          "SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io or portforward.k8s.io subprotocol",
                  "BadRequest");
    std::vector<unsigned short> ports;
    for (auto [it, end] = req.query.equal_range("ports"); it != end; ++it) {
      std::stringstream list(it->second);
      for (std::string one; std::getline(list, one, ',');) {
        const unsigned long port = std::strtoul(one.c_str(), nullptr, 10);
        if (port == 0 || port > 65535 || one.find_first_not_of("0123456789") != std::string::npos)
          return fail(s, 400, "invalid port \"" + one + "\": ports must be 1-65535", "BadRequest");
        ports.push_back(static_cast<unsigned short>(port));
      }
    }
    if (ports.empty()) return fail(s, 400, "query parameter \"ports\" is required", "BadRequest");
    return s->accept_websocket(protocol, [this, ports, target](std::shared_ptr<Transport> t) {
      start_websocket_port_forward(io_, std::move(t), ports, target);
    });
  }
  if (is_upgrade_to(req, "spdy/3.1")) {
    if (req.header("x-stream-protocol-version").find("portforward.k8s.io") == std::string::npos)
      return fail(s, 400, "unable to upgrade connection: the portforward.k8s.io stream protocol is required", "BadRequest");
    return s->accept_raw_upgrade({{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"},
                                  {"X-Stream-Protocol-Version", "portforward.k8s.io"}},
                                 [this, target](std::shared_ptr<Transport> t) {
                                   start_port_forward_session(io_, std::move(t), target);
                                 });
  }
  fail(s, 400, "Upgrade request required", "BadRequest");
}

}  // namespace sluice::standin
