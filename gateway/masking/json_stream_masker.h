// The streaming half of masking: JSON response bodies go through in pieces, as they arrive, and
// come out masked (secret_masker.h) while memory stays bounded by the largest single object.
// yajl's push parser takes the bytes; a list's `items` (and a Table's `rows`) are masked and
// written one element at a time, every other value (an object, one watch event) as a whole.
#pragma once
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/masking/secret_masker.h"

struct yajl_handle_t;

namespace sluice::gateway::masking {

struct StreamLimits {
  std::size_t max_object_bytes = 64u << 20;  // one element or one whole value
  int max_depth = 200;                        // Kubernetes objects nest far less
};

class JsonStreamMasker {
 public:
  explicit JsonStreamMasker(MaskScope scope, StreamLimits limits = {});
  ~JsonStreamMasker();
  JsonStreamMasker(const JsonStreamMasker&) = delete;
  JsonStreamMasker& operator=(const JsonStreamMasker&) = delete;

  // Masks the next piece of the body and appends whatever is complete and masked to `out`. False:
  // the body is not JSON or breaks a limit (error() says which); the caller must end the response,
  // and nothing of the value that failed is written.
  bool feed(std::string_view in, std::string& out);
  // The end of the body: false when it stops in the middle of a value.
  bool finish(std::string& out);
  const std::string& error() const { return error_; }

  // yajl's callbacks (C linkage trampolines in the .cpp call these).
  bool on_scalar(nlohmann::ordered_json value);
  bool on_start(bool object);
  bool on_key(std::string_view key);
  bool on_end();

 private:
  enum class Level { top, members, stream };
  bool fail(std::string why);
  bool add_bytes(std::size_t n);
  void insert(nlohmann::ordered_json value, bool container);
  bool may_stream() const;
  void flush_members();
  void finish_top_value();
  void emit_element(nlohmann::ordered_json& element);
  bool check(int status, std::string_view in);

  MaskScope scope_;
  StreamLimits limits_;
  yajl_handle_t* parser_ = nullptr;
  std::string* out_ = nullptr;
  std::string error_;

  Level level_ = Level::top;
  nlohmann::ordered_json root_;            // the top-level value, or its members not yet written
  nlohmann::ordered_json element_;         // the element of a streamed array being built
  std::vector<nlohmann::ordered_json*> stack_;  // open containers being built
  std::string key_;                        // the member name the next value belongs to
  std::string stream_key_;                 // "items" or "rows" while streaming that array
  std::string head_kind_;                  // the top-level object's kind, for masking its later members
  bool opened_ = false;                    // "{" of a streamed top-level object written
  std::size_t members_written_ = 0, elements_written_ = 0;
  std::size_t object_bytes_ = 0;
  int depth_ = 0;
  bool seen_value_ = false;
};

}  // namespace sluice::gateway::masking
