#include "spdy_session.h"

#include <algorithm>
#include <cctype>

namespace sluice::standin {
namespace {
constexpr std::uint16_t kSynStream = 1, kSynReply = 2, kRstStream = 3, kPing = 6, kGoAway = 7, kHeaders = 8;
constexpr std::uint8_t kFlagFin = 0x01;
constexpr std::size_t kMaxFrame = 16 * 1024 * 1024;

void put32(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v >> 24);
  s += static_cast<char>(v >> 16);
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v);
}
std::uint32_t get32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
std::string frame_head(bool control, std::uint32_t first, std::uint8_t flags, std::size_t len) {
  std::string s;
  put32(s, control ? (0x80000000u | (3u << 16) | first) : (first & 0x7fffffffu));
  s += static_cast<char>(flags);
  s += static_cast<char>(len >> 16);
  s += static_cast<char>(len >> 8);
  s += static_cast<char>(len);
  return s;
}
}  // namespace

const std::string& spdy3_dictionary() {
  static const std::string dict = [] {
    // The spec defines the dictionary as these names, each with a 4-byte big-endian length, ...
    static const char* names[] = {
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
        "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
        "content-base", "content-encoding", "content-language", "content-length", "content-location",
        "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
        "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
        "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
        "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
        "public", "set-cookie", "keep-alive", "origin"};
    std::string d;
    for (const char* n : names) {
      put32(d, static_cast<std::uint32_t>(std::char_traits<char>::length(n)));
      d += n;
    }
    // ... followed by this text, unprefixed.
    d += "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    return d;
  }();
  return dict;
}

std::string encode_header_block(const SpdyHeaders& headers) {
  std::string out;
  put32(out, static_cast<std::uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    put32(out, static_cast<std::uint32_t>(k.size()));
    out += k;
    put32(out, static_cast<std::uint32_t>(v.size()));
    out += v;
  }
  return out;
}

bool decode_header_block(const std::string& block, SpdyHeaders& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(block.data());
  std::size_t pos = 0, n = block.size();
  auto read_len = [&](std::uint32_t& v) {
    if (pos + 4 > n) return false;
    v = get32(p + pos);
    pos += 4;
    return true;
  };
  std::uint32_t count;
  if (!read_len(count)) return false;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t kl, vl;
    if (!read_len(kl) || pos + kl > n) return false;
    std::string k = block.substr(pos, kl);
    pos += kl;
    if (!read_len(vl) || pos + vl > n) return false;
    std::string v = block.substr(pos, vl);
    pos += vl;
    std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
    out.emplace_back(std::move(k), std::move(v));
  }
  return true;
}

std::string header_value(const SpdyHeaders& headers, const std::string& lower_name) {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return "";
}

SpdySession::SpdySession(std::shared_ptr<Transport> transport, Handlers handlers)
    : transport_(std::move(transport)), handlers_(std::move(handlers)) {
  deflateInit(&deflate_, Z_DEFAULT_COMPRESSION);
  const auto& d = spdy3_dictionary();
  deflateSetDictionary(&deflate_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
  inflateInit(&inflate_);
}

SpdySession::~SpdySession() {
  deflateEnd(&deflate_);
  inflateEnd(&inflate_);
}

void SpdySession::start() {
  transport_->start([self = shared_from_this()](std::string bytes) { self->on_bytes(std::move(bytes)); },
                    [self = shared_from_this()]() {
                      self->closed_ = true;
                      if (self->handlers_.on_closed) self->handlers_.on_closed();
                    });
}

void SpdySession::on_bytes(std::string bytes) {
  buffer_ += bytes;
  std::size_t pos = 0;
  while (buffer_.size() - pos >= 8) {
    const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + pos);
    std::size_t len = (std::size_t(p[5]) << 16) | (std::size_t(p[6]) << 8) | p[7];
    if (len > kMaxFrame) return close();
    if (buffer_.size() - pos < 8 + len) break;
    if (!handle_frame(p, len)) return close();
    pos += 8 + len;
  }
  buffer_.erase(0, pos);
}

bool SpdySession::handle_frame(const unsigned char* p, std::size_t len) {
  const unsigned char* payload = p + 8;
  const std::uint8_t flags = p[4];
  if (!(p[0] & 0x80)) {  // data frame
    const std::uint32_t id = get32(p) & 0x7fffffffu;
    if (len > 0 && handlers_.on_data) handlers_.on_data(id, std::string(reinterpret_cast<const char*>(payload), len));
    if ((flags & kFlagFin) && handlers_.on_remote_fin) handlers_.on_remote_fin(id);
    return true;
  }
  const std::uint16_t type = static_cast<std::uint16_t>((p[2] << 8) | p[3]);
  switch (type) {
    case kSynStream: {
      if (len < 10) return false;
      const std::uint32_t id = get32(payload) & 0x7fffffffu;
      std::string block;
      if (!decompress(std::string(reinterpret_cast<const char*>(payload + 10), len - 10), block)) return false;
      SpdyHeaders headers;
      if (!decode_header_block(block, headers)) return false;
      std::string reply;
      put32(reply, id);
      reply += compress(encode_header_block({}));
      send_control(kSynReply, 0, reply);
      if (handlers_.on_stream) handlers_.on_stream(id, headers);
      if ((flags & kFlagFin) && handlers_.on_remote_fin) handlers_.on_remote_fin(id);
      return true;
    }
    case kHeaders: {
      if (len < 4) return false;
      std::string block;  // keep the shared inflate state in step even though we ignore the headers
      return decompress(std::string(reinterpret_cast<const char*>(payload + 4), len - 4), block);
    }
    case kRstStream:
      if (len >= 4 && handlers_.on_reset) handlers_.on_reset(get32(payload) & 0x7fffffffu);
      return true;
    case kPing:
      send_control(kPing, 0, std::string(reinterpret_cast<const char*>(payload), len));
      return true;
    case kGoAway:
      close();
      return true;
    default:  // SETTINGS, WINDOW_UPDATE, CREDENTIAL: nothing to do for us
      return true;
  }
}

void SpdySession::send_control(std::uint16_t type, std::uint8_t flags, const std::string& payload) {
  if (closed_) return;
  transport_->send(frame_head(true, type, flags, payload.size()) + payload);
}

void SpdySession::send_data(std::uint32_t id, const std::string& data, bool fin) {
  if (closed_) return;
  transport_->send(frame_head(false, id, fin ? kFlagFin : 0, data.size()) + data);
}

void SpdySession::send_reset(std::uint32_t id, std::uint32_t status) {
  std::string payload;
  put32(payload, id);
  put32(payload, status);
  send_control(kRstStream, 0, payload);
}

void SpdySession::close() {
  if (closed_) return;
  transport_->close();
}

std::string SpdySession::compress(const std::string& block) {
  std::string out(block.size() + 64, '\0');
  deflate_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  deflate_.avail_in = static_cast<uInt>(block.size());
  std::size_t produced = 0;
  do {
    if (produced == out.size()) out.resize(out.size() * 2);
    deflate_.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    deflate_.avail_out = static_cast<uInt>(out.size() - produced);
    deflate(&deflate_, Z_SYNC_FLUSH);
    produced = out.size() - deflate_.avail_out;
  } while (deflate_.avail_out == 0);
  out.resize(produced);
  return out;
}

bool SpdySession::decompress(const std::string& in, std::string& out) {
  inflate_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  inflate_.avail_in = static_cast<uInt>(in.size());
  char buf[4096];
  for (;;) {
    inflate_.next_out = reinterpret_cast<Bytef*>(buf);
    inflate_.avail_out = sizeof buf;
    int rc = inflate(&inflate_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const auto& d = spdy3_dictionary();
      if (inflateSetDictionary(&inflate_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())) != Z_OK)
        return false;
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
    out.append(buf, sizeof buf - inflate_.avail_out);
    if (out.size() > kMaxFrame) return false;
    if (inflate_.avail_in == 0 && inflate_.avail_out != 0) break;
    if (rc == Z_BUF_ERROR) break;
  }
  return true;
}

}  // namespace sluice::standin
