#include "container/sealed_exe.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

extern char** environ;

namespace vmm::container {
namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
}

bool running_from_sealed_copy() {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return false;
  const int seals = ::fcntl(self.get(), F_GET_SEALS);
  return seals >= 0 && (seals & kSeals) == kSeals;
}

void ensure_running_from_sealed_copy() {
  if (running_from_sealed_copy()) return;
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) throw system_error("cannot open /proc/self/exe", errno);
  struct stat st {};
  if (::fstat(self.get(), &st) != 0) throw system_error("stat /proc/self/exe", errno);
  UniqueFd copy(::memfd_create("vmm-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) throw system_error("memfd_create", errno);
  off_t offset = 0;
  while (offset < st.st_size) {
    const ssize_t n =
        ::sendfile(copy.get(), self.get(), &offset, static_cast<size_t>(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw system_error("cannot copy the runtime binary", errno);
  }
  if (::fchmod(copy.get(), 0555) != 0 || ::fcntl(copy.get(), F_ADD_SEALS, kSeals) != 0) {
    throw system_error("cannot seal the runtime copy", errno);
  }
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t pos = 0; pos < cmdline.size();) {
    const size_t end = cmdline.find('\0', pos);
    args.push_back(cmdline.substr(pos, end - pos));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::syscall(SYS_execveat, copy.get(), "", argv.data(), environ, AT_EMPTY_PATH);
  throw system_error("cannot re-execute the sealed runtime copy", errno);
}

}  // namespace vmm::container
