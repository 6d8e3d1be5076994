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
constexpr uint64_t kArchiveAlignment = 4;

uint64_t initrd_limit(const GuestMemory& mem, uint64_t addr_max) {
  const uint64_t allowed = addr_max == ~uint64_t{0} ? addr_max : addr_max + 1;
  return std::min(allowed, mem.end_below(4 * x86_64::kGiB).raw);
}

}  // namespace

std::optional<InitrdLayout> initrd_layout(uint64_t file_size, uint64_t appendix_size) noexcept {
  if (appendix_size == 0) return InitrdLayout{file_size, file_size};
  const auto rounded = checked_add(file_size, kArchiveAlignment - 1);
  if (!rounded) return std::nullopt;
  const uint64_t offset = align_down(*rounded, kArchiveAlignment);
  const auto total = checked_add(offset, appendix_size);
  if (!total) return std::nullopt;
  return InitrdLayout{offset, *total};
}

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
                            uint64_t addr_max, const LoadedKernel& kernel,
                            std::span<const uint8_t> appendix) {
  const auto file = InputFile::open(path);
  if (file.size() == 0) throw ConfigError(path.string() + ": initrd is empty");
  const auto layout = initrd_layout(file.size(), appendix.size());
  const auto start =
      layout ? place_initrd(mem, layout->total_size, addr_max, kernel) : std::nullopt;
  if (!start) {
    const uint64_t size = layout ? layout->total_size : ~uint64_t{0};
    throw ConfigError(fmt::format(
        "initrd ({} MiB) does not fit in guest memory below {:#x} "
        "next to the kernel",
        size / x86_64::kMiB + (size % x86_64::kMiB != 0 ? 1 : 0), initrd_limit(mem, addr_max)));
  }
  const auto target = mem.span(*start, layout->total_size);
  if (!target) throw Error("initrd placement left guest memory");
  file.read_into(target->first(file.size()));
  // The kernel skips zeros between archives; zero them rather than rely on fresh memory.
  const auto gap = target->subspan(file.size(), layout->appendix_offset - file.size());
  std::fill(gap.begin(), gap.end(), uint8_t{0});
  std::copy(appendix.begin(), appendix.end(),
            target->begin() + static_cast<std::ptrdiff_t>(layout->appendix_offset));
  return InitrdPlacement{*start, layout->total_size};
}

InitrdPlacement load_initrd_bytes(const GuestMemory& mem, std::span<const uint8_t> archive,
                                  uint64_t addr_max, const LoadedKernel& kernel) {
  if (archive.empty()) throw ConfigError("the generated initramfs is empty");
  const auto start = place_initrd(mem, archive.size(), addr_max, kernel);
  if (!start) {
    throw ConfigError(fmt::format("initramfs ({} MiB) does not fit in guest memory below {:#x}",
                                  archive.size() / x86_64::kMiB + 1, initrd_limit(mem, addr_max)));
  }
  const auto target = mem.span(*start, archive.size());
  if (!target) throw Error("initrd placement left guest memory");
  std::copy(archive.begin(), archive.end(), target->begin());
  return InitrdPlacement{*start, archive.size()};
}

}  // namespace vmm::loader
