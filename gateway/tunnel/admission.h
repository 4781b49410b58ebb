// A server reactor created before its call is authenticated: gRPC wants the reactor back from
// the method at once, while the agent's token may need a database round trip. Until admit() or
// refuse() nothing is read; either may be called from any thread, once.
#pragma once
#include <grpcpp/grpcpp.h>

#include <string>

namespace sluice::gateway::tunnel {

template <class In, class Out>
class AdmittedReactor : public grpc::ServerBidiReactor<In, Out> {
 public:
  virtual void admit(std::string cluster) = 0;  // the call belongs to this cluster: start reading
  virtual void refuse(grpc::Status why) = 0;    // end the call before anything is read
};

}  // namespace sluice::gateway::tunnel
