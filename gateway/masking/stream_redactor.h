// Regex detectors over a byte stream (pod logs, exec and attach output): what a detector matches is
// replaced by the mask before it is passed on. A chunk's tail that could be the beginning of a
// match (Boost.Regex's partial matching says so) is held back until the next chunk decides it, so
// a secret split across two chunks is still caught.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "gateway/masking/masking_profile.h"

namespace sluice::gateway::masking {

class StreamRedactor {
 public:
  explicit StreamRedactor(std::shared_ptr<const MaskingProfile> profile);

  // Appends to `out` what is safe to pass on now; holds back a tail that may start a secret.
  void feed(std::string_view in, std::string& out);
  // Passes on what is held. At the end of the stream a partial match of 8 bytes or more is masked
  // whole; on an idle flush (no output for a while: an interactive shell waits for its echo) only
  // one of 24 bytes or more is, so a prompt or a typed word is not swallowed.
  void flush(std::string& out, bool end_of_stream);
  bool holding() const { return !held_.empty(); }
  std::size_t masked() const { return masked_; }  // matches replaced so far

 private:
  void scan(std::string& out, bool final, std::size_t partial_min);

  std::shared_ptr<const MaskingProfile> profile_;
  std::string held_;
  std::size_t masked_ = 0;
};

}  // namespace sluice::gateway::masking
