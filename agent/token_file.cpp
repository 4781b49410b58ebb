#include "agent/token_file.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <stdexcept>

#include "common/tls_certs.h"

namespace sluice::agent {

std::string TokenFile::get() const {
  std::lock_guard lock(mu_);
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (size_ >= 0) return token_;
    throw std::runtime_error("cannot read the token file " + path_);
  }
  if (st.st_ino == ino_ && st.st_size == size_ && st.st_mtim.tv_sec == mtime_.tv_sec &&
      st.st_mtim.tv_nsec == mtime_.tv_nsec)
    return token_;
  std::string token;
  try {
    token = common::read_file(path_);
  } catch (const std::exception&) {
    if (size_ >= 0) return token_;
    throw;
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (size_ >= 0) spdlog::info("the API server token in {} changed; using the new one", path_);
  token_ = std::move(token);
  ino_ = st.st_ino;
  size_ = st.st_size;
  mtime_ = st.st_mtim;
  return token_;
}

}  // namespace sluice::agent
