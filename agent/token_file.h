// A bearer token kept in a file that something else rotates (the kubelet for ServiceAccount
// tokens, a kubeconfig's tokenFile). Each use costs one stat(); the file is read again only when
// it changed (inode, size or mtime: the kubelet swaps a symlink, editors rename).
#pragma once
#include <sys/types.h>

#include <ctime>
#include <mutex>
#include <string>

namespace sluice::agent {

class TokenFile {
 public:
  explicit TokenFile(std::string path) : path_(std::move(path)) {}
  // The current token; throws when the file cannot be read and no token was read before. When a
  // rotation leaves the file unreadable for a moment, the last token read is returned.
  std::string get() const;

 private:
  std::string path_;
  mutable std::mutex mu_;
  mutable std::string token_;
  mutable ino_t ino_ = 0;
  mutable off_t size_ = -1;
  mutable timespec mtime_{};
};

}  // namespace sluice::agent
