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
#include <string_view>
#include <vector>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

extern char** environ;

namespace vmm::container {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// A sealed, read-only memfd copy of /proc/self/exe; empty with errno set on failure. No
// exceptions and nothing that needs static initialisation: it also runs from .preinit_array.
UniqueFd make_sealed_copy() noexcept {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return {};
  struct stat st {};
  if (::fstat(self.get(), &st) != 0) return {};
  UniqueFd copy(::memfd_create("vmm-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) return {};
  off_t offset = 0;
  while (offset < st.st_size) {
    const ssize_t n =
        ::sendfile(copy.get(), self.get(), &offset, static_cast<size_t>(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return {};
    }
  }
  if (::fchmod(copy.get(), 0555) != 0 || ::fcntl(copy.get(), F_ADD_SEALS, kSeals) != 0) {
    return {};
  }
  return copy;
}

}  // namespace

bool sealed_enough(int seals) { return seals >= 0 && (seals & kSeals) == kSeals; }

bool running_from_sealed_copy() {
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) return false;
  return sealed_enough(::fcntl(self.get(), F_GET_SEALS));
}

void ensure_running_from_sealed_copy() {
  if (running_from_sealed_copy()) return;
  UniqueFd copy = make_sealed_copy();
  if (!copy) throw system_error("cannot make a sealed copy of the runtime binary", errno);
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

bool command_needs_sealed_copy(int argc, const char* const* argv) {
  if (argc < 1 || argv == nullptr || argv[0] == nullptr) return false;
  std::string_view self = argv[0];
  if (const auto slash = self.rfind('/'); slash != std::string_view::npos) {
    self = self.substr(slash + 1);
  }
  int i = 1;
  if (self != "vmm-runc" && self != "runc") {
    if (argc < 2) return false;
    const std::string_view mode = argv[1];
    if (mode == "container") return argc >= 3 && std::string_view(argv[2]) == "run";
    if (mode != "oci") return false;
    i = 2;
  }
  // runc's global options come before the command; these three take a value.
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--root" || arg == "--log" || arg == "--log-format") {
      ++i;
      continue;
    }
    if (arg.starts_with('-')) continue;
    return arg == "create" || arg == "run" || arg == "exec";
  }
  return false;
}

void reexec_sealed_early(int argc, char** argv, char** envp) noexcept {
  if (!command_needs_sealed_copy(argc, argv)) return;
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self || sealed_enough(::fcntl(self.get(), F_GET_SEALS))) return;
  self.reset();
  UniqueFd copy = make_sealed_copy();
  if (!copy) return;
  ::syscall(SYS_execveat, copy.get(), "", argv, envp, AT_EMPTY_PATH);
}

}  // namespace vmm::container
