-- Recording chunks name how they are packed: "zstd" from this release on, "zlib" before it
-- (gateway/store/chunk_codec.h). Existing rows keep their zlib bytes and are read as before.
ALTER TABLE recording_chunks
    ADD COLUMN codec text NOT NULL DEFAULT 'zlib' CHECK (codec IN ('zlib', 'zstd'));
