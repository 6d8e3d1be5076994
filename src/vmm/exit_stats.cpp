#include "vmm/exit_stats.hpp"

#include <algorithm>

namespace vmm {
namespace {

using Kind = kvm::VcpuExit::Kind;

bool has_address(Kind kind) {
  return kind == Kind::kIoIn || kind == Kind::kIoOut || kind == Kind::kMmioRead ||
         kind == Kind::kMmioWrite;
}

constexpr uint64_t kAddressMask = (uint64_t{1} << 56) - 1;

}  // namespace

const char* exit_kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::kIoIn:
      return "pio-in";
    case Kind::kIoOut:
      return "pio-out";
    case Kind::kMmioRead:
      return "mmio-read";
    case Kind::kMmioWrite:
      return "mmio-write";
    case Kind::kHlt:
      return "hlt";
    case Kind::kShutdown:
      return "shutdown";
    case Kind::kSystemReset:
      return "system-reset";
    case Kind::kSystemShutdown:
      return "system-shutdown";
    case Kind::kInterrupted:
      return "interrupted";
    case Kind::kFailEntry:
      return "fail-entry";
    case Kind::kInternalError:
      return "internal-error";
    case Kind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

void ExitStats::count(Kind kind, uint64_t address) noexcept {
  const auto k = static_cast<std::size_t>(kind);
  if (k >= kKinds) return;
  per_kind_[k].store(per_kind_[k].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (!has_address(kind)) return;
  const uint64_t key = ((static_cast<uint64_t>(k) << 56) | (address & kAddressMask)) + 1;
  // Open addressing; only this thread inserts, so a free slot stays ours once written.
  std::size_t i = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> 57) % kSlots;
  for (std::size_t probe = 0; probe < kSlots; ++probe, i = (i + 1) % kSlots) {
    Slot& slot = slots_[i];
    const uint64_t current = slot.key.load(std::memory_order_relaxed);
    if (current == key) {
      slot.count.store(slot.count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
    if (current == 0) {
      slot.count.store(1, std::memory_order_relaxed);
      slot.key.store(key, std::memory_order_release);
      return;
    }
  }
  untracked_.store(untracked_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void ExitStats::add_to(ExitSummary& summary) const {
  for (std::size_t k = 0; k < kKinds; ++k) {
    const uint64_t n = per_kind_[k].load(std::memory_order_relaxed);
    if (n == 0) continue;
    summary.total += n;
    const char* name = exit_kind_name(static_cast<Kind>(k));
    auto it = std::find_if(summary.by_kind.begin(), summary.by_kind.end(),
                           [&](const ExitCount& c) { return c.kind == name; });
    if (it == summary.by_kind.end()) {
      summary.by_kind.push_back({name, 0, n});
    } else {
      it->count += n;
    }
  }
  for (const Slot& slot : slots_) {
    const uint64_t key = slot.key.load(std::memory_order_acquire);
    if (key == 0) continue;
    const uint64_t n = slot.count.load(std::memory_order_relaxed);
    const char* name = exit_kind_name(static_cast<Kind>((key - 1) >> 56));
    const uint64_t address = (key - 1) & kAddressMask;
    auto it =
        std::find_if(summary.by_address.begin(), summary.by_address.end(),
                     [&](const ExitCount& c) { return c.kind == name && c.address == address; });
    if (it == summary.by_address.end()) {
      summary.by_address.push_back({name, address, n});
    } else {
      it->count += n;
    }
  }
  summary.untracked += untracked_.load(std::memory_order_relaxed);
}

void finish_summary(ExitSummary& summary, std::size_t top) {
  auto by_count = [](const ExitCount& a, const ExitCount& b) {
    return a.count != b.count ? a.count > b.count : a.address < b.address;
  };
  std::sort(summary.by_kind.begin(), summary.by_kind.end(), by_count);
  std::sort(summary.by_address.begin(), summary.by_address.end(), by_count);
  if (summary.by_address.size() > top) summary.by_address.resize(top);
}

}  // namespace vmm
