// The server side of SPDY/3.1 as Kubernetes uses it for port-forward (and the exec fallback):
// frames over a Transport, header blocks compressed with zlib and the SPDY/3 dictionary.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "transport.h"

namespace sluice::standin {

using SpdyHeaders = std::vector<std::pair<std::string, std::string>>;

// The 1423-byte SPDY/3 header dictionary (spec section 2.6.10.1), built from its parts.
const std::string& spdy3_dictionary();

// Encodes/decodes an uncompressed SPDY/3 header block (count, then length-prefixed names and values).
std::string encode_header_block(const SpdyHeaders& headers);
bool decode_header_block(const std::string& block, SpdyHeaders& out);

class SpdySession : public std::enable_shared_from_this<SpdySession> {
 public:
  struct Handlers {
    std::function<void(std::uint32_t id, const SpdyHeaders&)> on_stream;  // a new stream (already replied to)
    std::function<void(std::uint32_t id, std::string)> on_data;
    std::function<void(std::uint32_t id)> on_remote_fin;                  // the peer closed its side
    std::function<void(std::uint32_t id)> on_reset;
    std::function<void()> on_closed;
  };

  SpdySession(std::shared_ptr<Transport> transport, Handlers handlers);
  ~SpdySession();
  void start();

  void send_data(std::uint32_t id, const std::string& data, bool fin = false);
  void send_reset(std::uint32_t id, std::uint32_t status);
  void close();

 private:
  void on_bytes(std::string bytes);
  bool handle_frame(const unsigned char* p, std::size_t len);
  void send_control(std::uint16_t type, std::uint8_t flags, const std::string& payload);
  std::string compress(const std::string& block);
  bool decompress(const std::string& in, std::string& out);

  std::shared_ptr<Transport> transport_;
  Handlers handlers_;
  std::string buffer_;
  z_stream deflate_{};
  z_stream inflate_{};
  bool closed_ = false;
};

std::string header_value(const SpdyHeaders& headers, const std::string& lower_name);

}  // namespace sluice::standin
