// A request as the frames of an Exchange: the head carries a body of up to kRequestFrameBytes
// itself and says it is complete (one gRPC message for the common case); a larger body follows
// in frames of that size and an end_of_body.
#pragma once
#include <cstddef>
#include <string>

#include "common/fifo.h"
#include "proto/tunnel.pb.h"

namespace sluice::gateway::tunnel {

constexpr std::size_t kRequestFrameBytes = 64 * 1024;

void append_request_frames(::sluice::tunnel::v1::GatewayFrame head, std::string body,
                           common::Fifo<::sluice::tunnel::v1::GatewayFrame>& out);

}  // namespace sluice::gateway::tunnel
