#include "loader/initrd.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "loader/input_file.hpp"
#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::loader {
namespace {

constexpr uint64_t kPageSize = 4096;

uint64_t initrd_limit(const GuestMemory& mem, uint64_t addr_max) {
  const uint64_t allowed = addr_max == ~uint64_t{0} ? addr_max : addr_max + 1;
  return std::min(allowed, mem.end_below(4 * x86_64::kGiB).raw);
}

}  // namespace

std::optional<GuestAddress> place_initrd(const GuestMemory& mem, uint64_t size, uint64_t addr_max,
                                         const LoadedKernel& kernel) noexcept {
  const uint64_t kernel_end = kernel.start.raw + kernel.size;  // chosen by a loader: no overflow
  uint64_t top = initrd_limit(mem, addr_max);
  // At most two tries: below the limit, then (if that hits the kernel) just below the kernel.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (size > top) return std::nullopt;
    const uint64_t candidate = align_down(top - size, kPageSize);
    if (candidate < x86_64::kHighMemStart) return std::nullopt;
    const bool overlaps_kernel = candidate < kernel_end && kernel.start.raw < candidate + size;
    if (!overlaps_kernel) {
      if (!mem.contains(GuestAddress(candidate), size)) return std::nullopt;
      return GuestAddress(candidate);
    }
    top = kernel.start.raw;
  }
  return std::nullopt;
}

InitrdPlacement load_initrd(const GuestMemory& mem, const std::filesystem::path& path,
                            uint64_t addr_max, const LoadedKernel& kernel) {
  const auto file = InputFile::open(path);
  if (file.size() == 0) throw ConfigError(path.string() + ": initrd is empty");
  const auto start = place_initrd(mem, file.size(), addr_max, kernel);
  if (!start) {
    throw ConfigError(
        fmt::format("initrd ({} MiB) does not fit in guest memory below {:#x} "
                    "next to the kernel",
                    (file.size() + x86_64::kMiB - 1) / x86_64::kMiB, initrd_limit(mem, addr_max)));
  }
  const auto target = mem.span(*start, file.size());
  if (!target) throw Error("initrd placement left guest memory");
  file.read_into(*target);
  return InitrdPlacement{*start, file.size()};
}

}  // namespace vmm::loader
