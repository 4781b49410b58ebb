// How a recording chunk's bytes are packed in recording_chunks.data, named by its `codec` column
// (migration 0014): "zstd" at level 1 for what this release writes (it keeps up with a 100 MB
// list, where zlib's fastest level took a core), "zlib" for the chunks older releases wrote.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::gateway::store {

inline constexpr const char* kChunkCodec = "zstd";

// One compression context for the caller's thread, reused chunk after chunk.
std::string pack_chunk(std::string_view raw);
// `raw_bytes` is the chunk's stored size before packing; throws std::runtime_error on a codec it
// does not know or bytes that do not unpack to that size.
std::string unpack_chunk(std::string_view codec, std::string_view packed, std::size_t raw_bytes);

}  // namespace sluice::gateway::store
