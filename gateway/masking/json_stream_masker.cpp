#include "gateway/masking/json_stream_masker.h"

#include <yajl/yajl_parse.h>

#include <cerrno>
#include <cstdlib>

namespace sluice::gateway::masking {
namespace {

using ojson = nlohmann::ordered_json;

JsonStreamMasker& self(void* ctx) { return *static_cast<JsonStreamMasker*>(ctx); }

// yajl hands numbers over as text, so 64-bit integers keep every digit.
ojson parse_number(const char* text, std::size_t len) {
  const std::string s(text, len);
  if (s.find_first_of(".eE") == std::string::npos) {
    errno = 0;
    char* end = nullptr;
    if (s[0] == '-') {
      const long long v = std::strtoll(s.c_str(), &end, 10);
      if (errno == 0) return v;
    } else {
      const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
      if (errno == 0) return v;
    }
  }
  return std::strtod(s.c_str(), nullptr);
}

std::string dump(const ojson& v) { return v.dump(-1, ' ', false, ojson::error_handler_t::replace); }

int cb_null(void* ctx) { return self(ctx).on_scalar(nullptr); }
int cb_boolean(void* ctx, int b) { return self(ctx).on_scalar(b != 0); }
int cb_number(void* ctx, const char* s, size_t len) { return self(ctx).on_scalar(parse_number(s, len)); }
int cb_string(void* ctx, const unsigned char* s, size_t len) {
  return self(ctx).on_scalar(std::string(reinterpret_cast<const char*>(s), len));
}
int cb_start_map(void* ctx) { return self(ctx).on_start(true); }
int cb_map_key(void* ctx, const unsigned char* s, size_t len) {
  return self(ctx).on_key(std::string_view(reinterpret_cast<const char*>(s), len));
}
int cb_end(void* ctx) { return self(ctx).on_end(); }
int cb_start_array(void* ctx) { return self(ctx).on_start(false); }

const yajl_callbacks kCallbacks = {cb_null,      cb_boolean, nullptr, nullptr,        cb_number, cb_string,
                                   cb_start_map, cb_map_key, cb_end,  cb_start_array, cb_end};

}  // namespace

JsonStreamMasker::JsonStreamMasker(MaskScope scope, StreamLimits limits)
    : scope_(std::move(scope)), limits_(limits), parser_(yajl_alloc(&kCallbacks, nullptr, this)) {
  yajl_config(parser_, yajl_allow_multiple_values, 1);  // a watch is one JSON value per event
}

JsonStreamMasker::~JsonStreamMasker() { yajl_free(parser_); }

bool JsonStreamMasker::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

bool JsonStreamMasker::add_bytes(std::size_t n) {
  object_bytes_ += n + 2;
  if (object_bytes_ > limits_.max_object_bytes)
    return fail("an object in the response is larger than " + std::to_string(limits_.max_object_bytes) + " bytes");
  return true;
}

bool JsonStreamMasker::check(int status, std::string_view in) {
  if (status == yajl_status_ok) return true;
  if (status == yajl_status_client_canceled) return fail(error_.empty() ? "the masker stopped" : error_);
  auto* msg = yajl_get_error(parser_, 0, reinterpret_cast<const unsigned char*>(in.data()), in.size());
  std::string why = "the response is not valid JSON: " + std::string(reinterpret_cast<char*>(msg));
  yajl_free_error(parser_, msg);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return fail(std::move(why));
}

bool JsonStreamMasker::feed(std::string_view in, std::string& out) {
  if (!error_.empty()) return false;
  out_ = &out;
  const auto before = out.size();
  const auto status = yajl_parse(parser_, reinterpret_cast<const unsigned char*>(in.data()), in.size());
  out_ = nullptr;
  if (!check(status, in)) {
    out.resize(before);  // the value that failed never reaches the client, not even in part
    return false;
  }
  return true;
}

bool JsonStreamMasker::finish(std::string& out) {
  if (!error_.empty()) return false;
  out_ = &out;
  const auto status = yajl_complete_parse(parser_);
  out_ = nullptr;
  if (!seen_value_ && level_ == Level::top) return true;  // an empty body
  if (!check(status, {})) return false;
  if (level_ != Level::top) return fail("the response ended in the middle of a JSON value");
  return true;
}

void JsonStreamMasker::insert(ojson value, bool container) {
  ojson* parent = stack_.back();
  ojson* placed;
  if (parent->is_object()) {
    placed = &((*parent)[key_] = std::move(value));
  } else {
    parent->push_back(std::move(value));
    placed = &parent->back();
  }
  if (container) stack_.push_back(placed);
}

bool JsonStreamMasker::on_scalar(ojson value) {
  if (!add_bytes(value.is_string() ? value.get_ref<const std::string&>().size() : 8)) return false;
  if (!stack_.empty()) {
    insert(std::move(value), false);
    return true;
  }
  if (level_ == Level::stream) {
    emit_element(value);
    return true;
  }
  // A scalar at the top: a whole (if odd) JSON text.
  seen_value_ = true;
  *out_ += dump(value) + "\n";
  object_bytes_ = 0;
  return true;
}

bool JsonStreamMasker::on_start(bool object) {
  if (++depth_ > limits_.max_depth)
    return fail("the response nests deeper than " + std::to_string(limits_.max_depth) + " levels");
  if (!add_bytes(0)) return false;
  ojson fresh = object ? ojson::object() : ojson::array();
  if (level_ == Level::top) {
    seen_value_ = true;
    root_ = std::move(fresh);
    stack_ = {&root_};
    level_ = Level::members;
    opened_ = false;
    members_written_ = 0;
    head_kind_.clear();
    return true;
  }
  // A list's items (a Table's rows) are written one element at a time.
  if (!object && level_ == Level::members && stack_.size() == 1 && root_.is_object() &&
      (key_ == "items" || key_ == "rows") && may_stream()) {
    flush_members();
    *out_ += (members_written_ > 0 ? "," : "") + dump(key_) + ":[";
    ++members_written_;
    stream_key_ = key_;
    elements_written_ = 0;
    stack_.clear();
    level_ = Level::stream;
    return true;
  }
  if (stack_.empty()) {  // an element of the streamed array
    element_ = std::move(fresh);
    stack_ = {&element_};
    return true;
  }
  insert(std::move(fresh), true);
  return true;
}

bool JsonStreamMasker::on_key(std::string_view key) {
  if (!add_bytes(key.size())) return false;
  key_.assign(key);
  return true;
}

bool JsonStreamMasker::on_end() {
  --depth_;
  if (level_ == Level::stream && stack_.empty()) {  // the streamed array closes
    *out_ += "]";
    level_ = Level::members;
    root_ = ojson::object();
    stack_ = {&root_};
    return true;
  }
  stack_.pop_back();
  if (!stack_.empty()) return true;
  if (level_ == Level::stream) {
    emit_element(element_);
    element_ = nullptr;
    return true;
  }
  finish_top_value();
  return true;
}

void JsonStreamMasker::emit_element(ojson& element) {
  if (stream_key_ == "rows") mask_table_row(element, scope_);
  else mask_document(element, scope_);
  *out_ += (elements_written_++ > 0 ? "," : "") + dump(element);
  object_bytes_ = 0;
}

// Streaming writes the members before `items` at once, so it must already be known that they are
// not a Secret's: the kind comes first in everything the API server writes. In a response about
// Secrets everything is masked anyway.
bool JsonStreamMasker::may_stream() const {
  if (scope_.secrets) return true;
  if (!head_kind_.empty()) return head_kind_ != "Secret";
  auto k = root_.find("kind");
  return k != root_.end() && k->is_string() && k->get_ref<const std::string&>() != "Secret";
}

// The top-level object's members collected since the last write, masked as one object that
// carries the object's kind (so a Secret's later members are masked like its first ones).
void JsonStreamMasker::flush_members() {
  ojson part = std::move(root_);
  root_ = ojson::object();
  stack_ = {&root_};
  bool injected = false;
  if (auto k = part.find("kind"); k != part.end() && k->is_string()) {
    head_kind_ = k->get<std::string>();
  } else if (!head_kind_.empty()) {
    part["kind"] = head_kind_;
    injected = true;
  }
  mask_document(part, scope_);
  if (injected) part.erase("kind");
  if (!opened_) {
    *out_ += "{";
    opened_ = true;
  }
  for (auto it = part.begin(); it != part.end(); ++it)
    *out_ += (members_written_++ > 0 ? "," : "") + dump(it.key()) + ":" + dump(it.value());
  object_bytes_ = 0;
}

void JsonStreamMasker::finish_top_value() {
  if (opened_) {
    flush_members();
    *out_ += "}\n";
  } else {
    mask_document(root_, scope_);
    *out_ += dump(root_) + "\n";
  }
  root_ = nullptr;
  stack_.clear();
  level_ = Level::top;
  object_bytes_ = 0;
}

}  // namespace sluice::gateway::masking
