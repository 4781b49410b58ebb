// pods/portforward over a plain WebSocket, as kubelet serves it (portforward/websocket.go) and as
// @kubernetes/client-node and kubernetes-client/python speak it: subprotocol v4.channel.k8s.io
// (or portforward.k8s.io), ports from the `ports` query, channel 2i carries port i's data and
// 2i+1 its errors; each channel's first message is the port number, 2 bytes little-endian.
#pragma once
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "transport.h"

namespace sluice::standin {

void start_websocket_port_forward(boost::asio::io_context& io, std::shared_ptr<Transport> transport,
                                  std::vector<unsigned short> ports,
                                  std::function<unsigned short(unsigned short)> target_port);

}  // namespace sluice::standin
