#include "loader/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vmm/common/error.hpp"

namespace vmm::loader {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, int err) {
  throw ConfigError(path.string() + ": " + std::strerror(err));
}

}  // namespace

InputFile InputFile::open(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fail(path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(path, errno);
  if (!S_ISREG(st.st_mode)) throw ConfigError(path.string() + ": not a regular file");
  return InputFile(std::move(fd), path, static_cast<uint64_t>(st.st_size));
}

void InputFile::read_into(std::span<uint8_t> out) const {
  uint64_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path_, errno);
    }
    // The file shrank under us: report it rather than loading a partial image.
    if (n == 0) throw ConfigError(path_.string() + ": file changed while being read");
    done += static_cast<uint64_t>(n);
  }
}

std::vector<uint8_t> InputFile::read_all() const {
  std::vector<uint8_t> bytes(size_);
  read_into(bytes);
  return bytes;
}

}  // namespace vmm::loader
