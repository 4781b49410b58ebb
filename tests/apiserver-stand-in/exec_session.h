// pods/exec over the Kubernetes WebSocket channel protocol (v5.channel.k8s.io and v4): byte 0 of
// each message is the channel (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize, 255 close).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "pod_runtime.h"
#include "transport.h"

namespace sluice::standin {

struct ExecRequest {
  std::string ns, pod, container;
  std::vector<std::string> command;
  bool stdin = false, stdout = true, stderr = true, tty = false;
  std::string protocol;  // the negotiated subprotocol
};

// Runs the command and relays it over `transport` until the command ends and its output is drained.
void start_exec_session(boost::asio::io_context& io, PodRuntime& runtime, std::shared_ptr<Transport> transport,
                        ExecRequest request);

// "v5.channel.k8s.io" or "v4.channel.k8s.io" from a Sec-WebSocket-Protocol offer, or "".
std::string choose_channel_protocol(const std::string& offered);

// The Status JSON written on the error channel when the command ends with `exit_code`.
std::string exec_exit_status(const std::vector<std::string>& command, int exit_code);

}  // namespace sluice::standin
