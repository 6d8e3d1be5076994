#include "vmm/memory/memory_mapping.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "vmm/common/error.hpp"

namespace vmm {

MemoryMapping MemoryMapping::anonymous(size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    throw HostResourceError("cannot map " + std::to_string(size >> 20) +
                            " MiB of guest memory: " + std::string(std::strerror(errno)));
  }
  // Guest RAM is large and mostly untouched by the VMM: keep it out of core dumps.
  ::madvise(p, size, MADV_DONTDUMP);
  return MemoryMapping(static_cast<uint8_t*>(p), size);
}

MemoryMapping::MemoryMapping(MemoryMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MemoryMapping& MemoryMapping::operator=(MemoryMapping&& other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MemoryMapping::~MemoryMapping() { unmap(); }

void MemoryMapping::unmap() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace vmm
