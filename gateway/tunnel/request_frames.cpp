#include "gateway/tunnel/request_frames.h"

namespace sluice::gateway::tunnel {

void append_request_frames(::sluice::tunnel::v1::GatewayFrame head, std::string body,
                           common::Fifo<::sluice::tunnel::v1::GatewayFrame>& out) {
  if (body.size() <= kRequestFrameBytes) {
    auto* h = head.mutable_request_head();
    h->set_body(std::move(body));
    h->set_complete(true);
    out.push_back(std::move(head));
    return;
  }
  out.push_back(std::move(head));
  for (std::size_t off = 0; off < body.size(); off += kRequestFrameBytes) {
    ::sluice::tunnel::v1::GatewayFrame f;
    f.set_body(body.substr(off, kRequestFrameBytes));
    out.push_back(std::move(f));
  }
  ::sluice::tunnel::v1::GatewayFrame end;
  end.mutable_end_of_body();
  out.push_back(std::move(end));
}

}  // namespace sluice::gateway::tunnel
