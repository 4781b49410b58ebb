#include "gateway/store/chunk_codec.h"

#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <stdexcept>

namespace sluice::gateway::store {
namespace {
constexpr int kLevel = 1;

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
}  // namespace

std::string pack_chunk(std::string_view raw) {
  static thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const std::size_t n = ZSTD_compressCCtx(cctx.get(), out.data(), out.size(), raw.data(), raw.size(), kLevel);
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd could not compress a recording chunk: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::string unpack_chunk(std::string_view codec, std::string_view packed, std::size_t raw_bytes) {
  std::string out(raw_bytes, '\0');
  if (codec == "zstd") {
    static thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
    const std::size_t n = ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), packed.data(), packed.size());
    if (ZSTD_isError(n) || n != raw_bytes) throw std::runtime_error("a zstd recording chunk does not unpack to its size");
    return out;
  }
  if (codec == "zlib") {
    uLongf size = raw_bytes;
    if (uncompress(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(packed.data()),
                   packed.size()) != Z_OK || size != raw_bytes)
      throw std::runtime_error("a zlib recording chunk does not unpack to its size");
    return out;
  }
  throw std::runtime_error("a recording chunk has an unknown codec \"" + std::string(codec) + "\"");
}

}  // namespace sluice::gateway::store
