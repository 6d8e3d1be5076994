#pragma once
// Move-only owner of an anonymous host mapping.
#include <cstddef>
#include <cstdint>

namespace vmm {

class MemoryMapping final {
 public:
  MemoryMapping() noexcept = default;
  // Anonymous, private, not reserved against swap: guest RAM is touched on demand.
  // Throws vmm::Error when the host cannot map `size` bytes.
  static MemoryMapping anonymous(size_t size);

  MemoryMapping(const MemoryMapping&) = delete;
  MemoryMapping& operator=(const MemoryMapping&) = delete;
  MemoryMapping(MemoryMapping&& other) noexcept;
  MemoryMapping& operator=(MemoryMapping&& other) noexcept;
  ~MemoryMapping();

  [[nodiscard]] uint8_t* data() const noexcept { return data_; }
  [[nodiscard]] size_t size() const noexcept { return size_; }

 private:
  MemoryMapping(uint8_t* data, size_t size) noexcept : data_(data), size_(size) {}
  void unmap() noexcept;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vmm
