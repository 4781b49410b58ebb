// pods/portforward: SPDY streams (a data and an error stream per connection, paired by requestid)
// relayed to a TCP port on 127.0.0.1 that stands in for the pod's port.
#pragma once
#include <utility>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>

#include "transport.h"

namespace sluice::standin {

// `target_port(pod_port)` tells where a pod's port lives on this machine (0: refuse).
void start_port_forward_session(boost::asio::io_context& io, std::shared_ptr<Transport> transport,
                                std::function<unsigned short(unsigned short)> target_port);

// A TCP echo server on 127.0.0.1 (the stand-in's "pod port"); returns the bound port.
unsigned short start_echo_server(boost::asio::io_context& io);

}  // namespace sluice::standin
