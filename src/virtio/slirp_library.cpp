#include "slirp_library.hpp"

#include <dlfcn.h>

#include <memory>
#include <mutex>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm::virtio {
namespace {

// The soname of Debian's libslirp0 (ABI 0).
constexpr const char* kSoname = "libslirp.so.0";

struct Closer {
  void operator()(void* handle) const noexcept { ::dlclose(handle); }
};

template <typename F>
void bind(void* handle, const char* name, F& out) {
  void* symbol = ::dlsym(handle, name);
  if (symbol == nullptr) {
    throw HostResourceError(std::string(kSoname) + " has no " + name);
  }
  out = reinterpret_cast<F>(symbol);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

}  // namespace

const SlirpLibrary& slirp_library() {
  static std::mutex mutex;
  static std::unique_ptr<void, Closer> handle;
  static SlirpLibrary library{};
  std::lock_guard lock(mutex);
  if (handle) return library;
  std::unique_ptr<void, Closer> opened(::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL));
  if (!opened) {
    const char* why = ::dlerror();
    throw HostResourceError(std::string("user-mode networking needs ") + kSoname + " (" +
                            (why != nullptr ? why : "not found") + "; apt-get install libslirp0)");
  }
  SlirpLibrary loaded{};
  bind(opened.get(), "slirp_new", loaded.new_instance);
  bind(opened.get(), "slirp_cleanup", loaded.cleanup);
  bind(opened.get(), "slirp_add_hostfwd", loaded.add_hostfwd);
  bind(opened.get(), "slirp_input", loaded.input);
  bind(opened.get(), "slirp_pollfds_fill", loaded.pollfds_fill);
  bind(opened.get(), "slirp_pollfds_poll", loaded.pollfds_poll);
  library = loaded;
  handle = std::move(opened);
  return library;
}

}  // namespace vmm::virtio
