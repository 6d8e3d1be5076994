#pragma once
// KVM structures that end in a flexible array (kvm_cpuid2, kvm_msrs, kvm_irq_routing) are
// declared in the uapi headers with __DECLARE_FLEX_ARRAY, which in C++ inserts an empty struct
// of size 1: the array moves (offset 12 or 16 instead of 8) and sizeof changes, and with it
// the ioctl numbers built from it, so KVM answers EINVAL. These are the C layouts: an 8-byte
// header followed by the entries, and ioctl numbers computed from that header.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace vmm::kvm::abi {

struct FlexHeader {
  uint32_t count;
  uint32_t reserved;  // padding / flags: always 0 here
};
static_assert(sizeof(FlexHeader) == 8);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, FlexHeader);
inline constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, FlexHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, FlexHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, FlexHeader);

// A zeroed buffer holding the header and room for `count` entries of T.
template <typename T>
class FlexBuffer final {
 public:
  explicit FlexBuffer(size_t count)
      : bytes_(sizeof(FlexHeader) + count * sizeof(T)), data_(std::make_unique<uint8_t[]>(bytes_)) {
    std::memset(data_.get(), 0, bytes_);
    set_count(static_cast<uint32_t>(count));
  }
  explicit FlexBuffer(std::span<const T> entries) : FlexBuffer(entries.size()) {
    std::memcpy(data_.get() + sizeof(FlexHeader), entries.data(), entries.size_bytes());
  }
  [[nodiscard]] void* get() noexcept { return data_.get(); }
  [[nodiscard]] uint32_t count() const noexcept {
    FlexHeader h{};
    std::memcpy(&h, data_.get(), sizeof(h));
    return h.count;
  }
  void set_count(uint32_t n) noexcept {
    const FlexHeader h{n, 0};
    std::memcpy(data_.get(), &h, sizeof(h));
  }
  // Copies out the first count() entries (at most the capacity).
  [[nodiscard]] std::vector<T> entries() const {
    const size_t n = std::min<size_t>(count(), (bytes_ - sizeof(FlexHeader)) / sizeof(T));
    std::vector<T> out(n);
    std::memcpy(out.data(), data_.get() + sizeof(FlexHeader), n * sizeof(T));
    return out;
  }

 private:
  size_t bytes_;
  std::unique_ptr<uint8_t[]> data_;
};

}  // namespace vmm::kvm::abi
