#pragma once
// The VM's platform resources, handed out in one place so that no two devices share a port
// range, an MMIO window, an interrupt line or a PCI slot: fixed (well-known) resources are
// reserved, the rest allocated. A clash between fixed resources is a bug in the VM builder
// (vmm::Error); running out is a configuration the VM cannot hold (vmm::ConfigError).
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vmm {

// Disjoint [base, base + size) ranges inside one address space.
class AddressAllocator {
 public:
  // The space [base, base + size); size > 0.
  AddressAllocator(std::string name, uint64_t base, uint64_t size);

  // Claims [base, base + size) for `owner`.
  void reserve(uint64_t base, uint64_t size, std::string_view owner);
  // The lowest free `align`-aligned range of `size` bytes (align a power of two), claimed
  // for `owner`.
  uint64_t allocate(uint64_t size, uint64_t align, std::string_view owner);
  // Who holds the range containing `address`, if anyone.
  [[nodiscard]] std::optional<std::string> owner_of(uint64_t address) const;

 private:
  struct Used {
    uint64_t end;  // exclusive
    std::string owner;
  };
  std::string name_;
  uint64_t base_;
  uint64_t end_;  // exclusive; base_ + size fits in 64 bits
  std::map<uint64_t, Used> used_;
};

// Small integer resources (interrupt lines, PCI slots) in [first, last].
class IdAllocator {
 public:
  IdAllocator(std::string name, uint32_t first, uint32_t last);

  void reserve(uint32_t id, std::string_view owner);
  // The first free id of `candidates` (in their order), or of the whole range when empty.
  uint32_t allocate(std::string_view owner, std::span<const uint32_t> candidates = {});
  [[nodiscard]] bool is_free(uint32_t id) const;

 private:
  std::string name_;
  uint32_t first_;
  uint32_t last_;
  std::map<uint32_t, std::string> used_;
};

}  // namespace vmm
