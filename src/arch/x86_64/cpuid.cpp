#include "arch/x86_64/cpuid.hpp"

#include <cpuid.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

#include "vmm/common/error.hpp"

namespace vmm::x86_64 {

namespace {

constexpr uint32_t kCacheTypeMask = 0x1f;  // leaf 4 / 0x8000001D EAX[4:0]; 0 = no more caches
constexpr uint32_t kCacheLevelShift = 5;   // EAX[7:5]
constexpr uint32_t kCacheLevelMask = 0x7;
constexpr uint32_t kCacheSharingShift = 14;  // EAX[25:14]: threads sharing this cache - 1
constexpr uint32_t kCacheSharingMask = 0xfff;
constexpr uint32_t kCacheCoresShift = 26;  // leaf 4 EAX[31:26]: cores per package - 1
constexpr uint32_t kCacheCoresMask = 0x3f;
constexpr uint32_t kLastLevelCache = 3;

std::array<uint32_t, 3> vendor_words(const char (&name)[13]) noexcept {
  std::array<uint32_t, 3> words{};  // EBX, EDX, ECX order, as leaf 0 returns it
  std::memcpy(words.data(), name, sizeof(words));
  return words;
}

uint32_t with_field(uint32_t reg, uint32_t shift, uint32_t mask, uint32_t value) noexcept {
  return (reg & ~(mask << shift)) | ((value & mask) << shift);
}

// Bits needed to number `count` IDs (x2APIC ID shift of the next topology level).
uint32_t id_bits(uint32_t count) noexcept {
  return count <= 1 ? 0 : static_cast<uint32_t>(std::bit_width(count - 1));
}

kvm_cpuid_entry2* find_mutable(std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                               uint32_t index = 0) noexcept {
  return const_cast<kvm_cpuid_entry2*>(find_cpuid_entry(entries, function, index));
}

kvm_cpuid_entry2 make_entry(uint32_t function, uint32_t index, uint32_t flags) noexcept {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.flags = flags;
  return e;
}

uint32_t max_basic_leaf(std::span<const kvm_cpuid_entry2> entries) noexcept {
  const auto* leaf0 = find_cpuid_entry(entries, kCpuidLeafVendor);
  return leaf0 != nullptr ? leaf0->eax : 0;
}

// Host topology entries beyond the reported maximum leaf would be stale; remove them.
void drop_leaves_above(std::vector<kvm_cpuid_entry2>& entries, uint32_t max_leaf,
                       std::initializer_list<uint32_t> functions) {
  for (const uint32_t function : functions) {
    if (function <= max_leaf) continue;
    std::erase_if(entries,
                  [function](const kvm_cpuid_entry2& e) { return e.function == function; });
  }
}

void configure_features_leaf(std::vector<kvm_cpuid_entry2>& entries, uint32_t apic_id,
                             uint32_t cpu_count) {
  auto* leaf = find_mutable(entries, kCpuidLeafFeatures);
  if (leaf == nullptr) return;
  leaf->ebx = with_field(leaf->ebx, 24, 0xff, apic_id);
  leaf->ebx = with_field(leaf->ebx, 16, 0xff, cpu_count);
  // HTT says "EBX[23:16] is valid and the package holds more than one logical processor".
  if (cpu_count > 1) {
    leaf->edx |= kCpuid1EdxHtt;
  } else {
    leaf->edx &= ~kCpuid1EdxHtt;
  }
  leaf->ecx |= kCpuid1EcxHypervisor;
}

// Leaves 0xB/0x1F are rebuilt rather than patched: recent KVM reports them empty (no topology)
// and older KVM copies the host's, neither of which describes this VM.
void configure_topology_leaf(std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                             uint32_t apic_id, uint32_t cpu_count) {
  std::erase_if(entries, [function](const kvm_cpuid_entry2& e) { return e.function == function; });

  struct Level {
    uint32_t shift;
    uint32_t count;
    uint32_t type;
  };
  const std::array<Level, 3> levels{{
      {0, 1, kTopologyLevelSmt},  // one thread per core
      {id_bits(cpu_count), cpu_count, kTopologyLevelCore},
      {0, 0, kTopologyLevelInvalid},  // terminates the enumeration
  }};
  for (uint32_t i = 0; i < levels.size(); ++i) {
    auto e = make_entry(function, i, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
    e.eax = levels[i].shift;
    e.ebx = levels[i].count;
    e.ecx = (levels[i].type << 8) | i;
    e.edx = apic_id;
    entries.push_back(e);
  }
}

// Intel deterministic cache parameters: every cache is private to its core except the last
// level, which the whole package shares.
void configure_intel_cache_leaf(std::vector<kvm_cpuid_entry2>& entries, uint32_t cpu_count) {
  const uint32_t cores = std::min(cpu_count, kCacheCoresMask + 1);
  for (auto& e : entries) {
    if (e.function != kCpuidLeafCacheParams || (e.eax & kCacheTypeMask) == 0) continue;
    const uint32_t level = (e.eax >> kCacheLevelShift) & kCacheLevelMask;
    e.eax = with_field(e.eax, kCacheCoresShift, kCacheCoresMask, cores - 1);
    e.eax = with_field(e.eax, kCacheSharingShift, kCacheSharingMask,
                       level >= kLastLevelCache ? cpu_count - 1 : 0);
  }
}

void configure_amd_leaves(std::vector<kvm_cpuid_entry2>& entries, uint32_t apic_id,
                          uint32_t cpu_count) {
  // CmpLegacy + HTT: leaf 1's logical count counts cores, not SMT siblings.
  if (auto* ext = find_mutable(entries, kCpuidLeafExtFeatures); ext != nullptr) {
    if (cpu_count > 1) {
      ext->ecx |= kCpuidExt1EcxCmpLegacy;
    } else {
      ext->ecx &= ~kCpuidExt1EcxCmpLegacy;
    }
  }
  // ECX[7:0] NC = cores - 1, ECX[15:12] ApicIdSize = APIC ID bits that number the cores.
  if (auto* sizes = find_mutable(entries, kCpuidLeafAmdSizes); sizes != nullptr) {
    sizes->ecx = with_field(sizes->ecx, 0, 0xff, cpu_count - 1);
    sizes->ecx = with_field(sizes->ecx, 12, 0xf, id_bits(cpu_count));
  }
  for (auto& e : entries) {
    if (e.function != kCpuidLeafAmdCacheTopology || (e.eax & kCacheTypeMask) == 0) continue;
    const uint32_t level = (e.eax >> kCacheLevelShift) & kCacheLevelMask;
    e.eax = with_field(e.eax, kCacheSharingShift, kCacheSharingMask,
                       level >= kLastLevelCache ? cpu_count - 1 : 0);
  }
  // EAX extended APIC ID; EBX[7:0] core ID, EBX[15:8] threads per core - 1;
  // ECX[7:0] node ID, ECX[10:8] nodes per package - 1.
  if (auto* ext_apic = find_mutable(entries, kCpuidLeafAmdExtApicId); ext_apic != nullptr) {
    ext_apic->eax = apic_id;
    ext_apic->ebx = apic_id & 0xff;
    ext_apic->ecx = 0;
    ext_apic->edx = 0;
  }
}

void ensure_kvm_leaves(std::vector<kvm_cpuid_entry2>& entries) {
  const auto signature = vendor_words("KVMKVMKVM\0\0\0");
  if (find_cpuid_entry(entries, kCpuidLeafKvmSignature) == nullptr) {
    entries.push_back(make_entry(kCpuidLeafKvmSignature, 0, 0));
  }
  auto* sig = find_mutable(entries, kCpuidLeafKvmSignature);
  sig->ebx = signature[0];
  sig->ecx = signature[1];
  sig->edx = signature[2];
  sig->eax = std::max(sig->eax, kCpuidLeafKvmFeatures);
  // Features stay exactly what KVM offered; an absent leaf means it offered none.
  if (find_cpuid_entry(entries, kCpuidLeafKvmFeatures) == nullptr) {
    entries.push_back(make_entry(kCpuidLeafKvmFeatures, 0, 0));
  }
}

// Leaf 0x80000000 EAX bounds the extended leaves a guest reads.
void raise_max_extended_leaf(std::vector<kvm_cpuid_entry2>& entries, uint32_t leaf) {
  auto* max = find_mutable(entries, kCpuidLeafExtMax);
  if (max == nullptr) {
    entries.push_back(make_entry(kCpuidLeafExtMax, 0, 0));
    max = &entries.back();
  }
  max->eax = std::max(max->eax, leaf);
}

constexpr std::size_t kBrandBytesPerLeaf = 16;

}  // namespace

std::string host_cpu_brand() {
  if (__get_cpuid_max(kCpuidLeafExtMax, nullptr) < kCpuidLeafBrandLast) return {};
  std::array<char, kCpuidBrandSize> raw{};
  for (uint32_t leaf = kCpuidLeafBrandFirst; leaf <= kCpuidLeafBrandLast; ++leaf) {
    std::array<unsigned, 4> regs{};
    __get_cpuid(leaf, &regs[0], &regs[1], &regs[2], &regs[3]);
    std::memcpy(raw.data() + (leaf - kCpuidLeafBrandFirst) * kBrandBytesPerLeaf, regs.data(),
                kBrandBytesPerLeaf);
  }
  // Some CPUs right-align the string with leading spaces; all pad it with NULs.
  std::string_view brand(raw.data(), raw.size());
  brand = brand.substr(0, brand.find('\0'));
  const auto first = brand.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  brand = brand.substr(first, brand.find_last_not_of(' ') - first + 1);
  return std::string(brand);
}

bool has_cpuid_brand(std::span<const kvm_cpuid_entry2> entries) noexcept {
  bool any_set = false;
  for (uint32_t leaf = kCpuidLeafBrandFirst; leaf <= kCpuidLeafBrandLast; ++leaf) {
    const auto* e = find_cpuid_entry(entries, leaf);
    if (e == nullptr) return false;
    any_set = any_set || (e->eax | e->ebx | e->ecx | e->edx) != 0;
  }
  return any_set;
}

void set_cpuid_brand(std::vector<kvm_cpuid_entry2>& entries, std::string_view brand) {
  std::array<char, kCpuidBrandSize> bytes{};  // the rest stays NUL: the string's terminator
  const std::size_t length = std::min(brand.size(), kCpuidBrandSize - 1);
  std::copy_n(brand.begin(), length, bytes.begin());
  for (uint32_t leaf = kCpuidLeafBrandFirst; leaf <= kCpuidLeafBrandLast; ++leaf) {
    auto* e = find_mutable(entries, leaf);
    if (e == nullptr) {
      entries.push_back(make_entry(leaf, 0, 0));
      e = &entries.back();
    }
    std::array<uint32_t, 4> regs{};  // EAX, EBX, ECX, EDX: the string's bytes in order
    std::memcpy(regs.data(), bytes.data() + (leaf - kCpuidLeafBrandFirst) * kBrandBytesPerLeaf,
                kBrandBytesPerLeaf);
    e->eax = regs[0];
    e->ebx = regs[1];
    e->ecx = regs[2];
    e->edx = regs[3];
  }
  raise_max_extended_leaf(entries, kCpuidLeafBrandLast);
}

CpuVendor cpuid_vendor(std::span<const kvm_cpuid_entry2> entries) noexcept {
  const auto* leaf0 = find_cpuid_entry(entries, kCpuidLeafVendor);
  if (leaf0 == nullptr) return CpuVendor::kOther;
  const std::array<uint32_t, 3> words{leaf0->ebx, leaf0->edx, leaf0->ecx};
  if (words == vendor_words("GenuineIntel")) return CpuVendor::kIntel;
  if (words == vendor_words("AuthenticAMD") || words == vendor_words("HygonGenuine")) {
    return CpuVendor::kAmd;
  }
  return CpuVendor::kOther;
}

const kvm_cpuid_entry2* find_cpuid_entry(std::span<const kvm_cpuid_entry2> entries,
                                         uint32_t function, uint32_t index) noexcept {
  for (const auto& e : entries) {
    if (e.function != function) continue;
    if ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0 && e.index != index) continue;
    return &e;
  }
  return nullptr;
}

void configure_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t cpu_index,
                     uint32_t cpu_count) {
  configure_cpuid(entries, cpu_index, cpu_count, host_cpu_brand());
}

void configure_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t cpu_index, uint32_t cpu_count,
                     std::string_view brand) {
  if (cpu_count == 0 || cpu_count > kMaxCpuidCpus) {
    throw ConfigError("vCPU count " + std::to_string(cpu_count) + " is out of range (1.." +
                      std::to_string(kMaxCpuidCpus) + ")");
  }
  if (cpu_index >= cpu_count) {
    throw Error("vCPU index " + std::to_string(cpu_index) + " is not below the vCPU count " +
                std::to_string(cpu_count));
  }
  const uint32_t apic_id = cpu_index;
  const CpuVendor vendor = cpuid_vendor(entries);
  const uint32_t max_leaf = max_basic_leaf(entries);

  configure_features_leaf(entries, apic_id, cpu_count);
  // 0x1F supersedes 0xB where it exists; it is not invented on CPUs without it.
  const bool has_v2 = find_cpuid_entry(entries, kCpuidLeafTopologyV2) != nullptr;
  drop_leaves_above(entries, max_leaf, {kCpuidLeafTopology, kCpuidLeafTopologyV2});
  if (max_leaf >= kCpuidLeafTopology) {
    configure_topology_leaf(entries, kCpuidLeafTopology, apic_id, cpu_count);
  }
  if (max_leaf >= kCpuidLeafTopologyV2 && has_v2) {
    configure_topology_leaf(entries, kCpuidLeafTopologyV2, apic_id, cpu_count);
  }
  if (vendor == CpuVendor::kIntel) configure_intel_cache_leaf(entries, cpu_count);
  if (vendor == CpuVendor::kAmd) configure_amd_leaves(entries, apic_id, cpu_count);
  ensure_kvm_leaves(entries);
  // Without a brand string Linux names the CPU after its family ("AMD Hammer"); KVM's own
  // string, when it has one, is the host's and stays.
  if (has_cpuid_brand(entries)) {
    raise_max_extended_leaf(entries, kCpuidLeafBrandLast);
  } else {
    set_cpuid_brand(entries, brand.empty() ? kDefaultCpuBrand : brand);
  }
}

}  // namespace vmm::x86_64
