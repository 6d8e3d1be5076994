#pragma once
// ioctl with errors turned into exceptions that name the request.
#include <sys/ioctl.h>

#include <cerrno>
#include <string_view>

#include "vmm/common/error.hpp"

namespace vmm::kvm {

template <typename Arg>
int checked_ioctl(int fd, unsigned long request, Arg arg, std::string_view name) {
  int r = 0;
  do {
    r = ::ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw system_error(std::string(name) + " failed", errno);
  return r;
}

}  // namespace vmm::kvm
