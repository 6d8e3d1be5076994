#include "vmm/common/error.hpp"

#include <cstring>

namespace vmm {

Error system_error(const std::string& what, int err) {
  return Error(what + ": " + std::strerror(err));
}

}  // namespace vmm
