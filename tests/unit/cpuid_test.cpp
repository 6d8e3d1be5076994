#include "arch/x86_64/cpuid.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm::x86_64 {
namespace {

constexpr uint32_t kIndexed = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
constexpr uint32_t kKvmFeatureBits = 0x01007afb;  // kvm-clock, async PF, PV EOI, ...

kvm_cpuid_entry2 entry(uint32_t function, uint32_t index, uint32_t flags, uint32_t eax,
                       uint32_t ebx, uint32_t ecx, uint32_t edx) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.flags = flags;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

// Leaf 0 registers for a vendor string, in EBX, EDX, ECX order.
kvm_cpuid_entry2 vendor_leaf(uint32_t max_leaf, const char (&name)[13]) {
  uint32_t words[3];
  std::memcpy(words, name, sizeof(words));
  return entry(0, 0, 0, max_leaf, words[0], words[2], words[1]);
}

std::string kvm_signature(const kvm_cpuid_entry2& e) {
  char text[12];
  std::memcpy(text, &e.ebx, 4);
  std::memcpy(text + 4, &e.ecx, 4);
  std::memcpy(text + 8, &e.edx, 4);
  return std::string(text, sizeof(text));
}

// Shaped like KVM_GET_SUPPORTED_CPUID on an Intel host with a recent kernel.
std::vector<kvm_cpuid_entry2> intel_supported() {
  return {
      vendor_leaf(0x1f, "GenuineIntel"),
      entry(1, 0, 0, 0x000906ea, 0x00000800, 0x77faf3ff, 0x0f8bfbff),
      entry(4, 0, kIndexed, 0x1c004121, 0x01c0003f, 0x3f, 0),    // L1d
      entry(4, 1, kIndexed, 0x1c004122, 0x01c0003f, 0x3f, 0),    // L1i
      entry(4, 2, kIndexed, 0x1c004143, 0x00c0003f, 0x3ff, 0),   // L2
      entry(4, 3, kIndexed, 0x1c03c163, 0x03c0003f, 0x2fff, 6),  // L3, host: 16 threads
      entry(4, 4, kIndexed, 0, 0, 0, 0),                         // no more caches
      entry(6, 0, 0, 0x4, 0, 0, 0),
      entry(0xb, 0, kIndexed, 0, 0, 0, 0),  // KVM reports "no topology"
      entry(0x1f, 0, kIndexed, 0, 0, 0, 0),
      entry(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
      entry(0x40000001, 0, 0, kKvmFeatureBits, 0, 0, 0),
      entry(0x80000000, 0, 0, 0x80000008, 0, 0, 0),
      entry(0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800),
      entry(0x80000008, 0, 0, 0x3027, 0, 0, 0),
  };
}

std::vector<kvm_cpuid_entry2> amd_supported() {
  return {
      vendor_leaf(0x10, "AuthenticAMD"),
      entry(1, 0, 0, 0x00a00f11, 0x00000800, 0x7ed8320b, 0x178bfbff),
      entry(4, 0, 0, 0x1234, 0x5678, 0, 0),  // reserved on AMD: must be left alone
      entry(0xb, 0, kIndexed, 0, 0, 0, 0),
      entry(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
      entry(0x40000001, 0, 0, kKvmFeatureBits, 0, 0, 0),
      entry(0x80000000, 0, 0, 0x80000021, 0, 0, 0),
      entry(0x80000001, 0, 0, 0x00a00f11, 0, 0x75c237ff, 0x2fd3fbff),
      entry(0x80000008, 0, 0, 0x3030, 0, 0x0003f00f, 0),  // host: 16 cores, PerfTscSize set
      entry(0x8000001d, 0, kIndexed, 0x00004121, 0x01c0003f, 0x3f, 0),    // L1d
      entry(0x8000001d, 3, kIndexed, 0x0003c163, 0x03c0003f, 0x7fff, 1),  // L3
      entry(0x8000001e, 0, 0, 0x2a, 0x0105, 0x0100, 0),
  };
}

const kvm_cpuid_entry2& get(const std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                            uint32_t index = 0) {
  const auto* e = find_cpuid_entry(entries, function, index);
  if (e == nullptr) {
    ADD_FAILURE() << "missing leaf 0x" << std::hex << function << " index " << index;
    static const kvm_cpuid_entry2 kEmpty{};
    return kEmpty;
  }
  return *e;
}

std::size_t count_leaf(const std::vector<kvm_cpuid_entry2>& entries, uint32_t function) {
  return static_cast<std::size_t>(std::count_if(
      entries.begin(), entries.end(), [&](const auto& e) { return e.function == function; }));
}

TEST(Cpuid, VendorDetection) {
  EXPECT_EQ(cpuid_vendor(intel_supported()), CpuVendor::kIntel);
  EXPECT_EQ(cpuid_vendor(amd_supported()), CpuVendor::kAmd);
  EXPECT_EQ(cpuid_vendor(std::vector<kvm_cpuid_entry2>{}), CpuVendor::kOther);
}

TEST(Cpuid, FindHonoursSignificantIndex) {
  const auto entries = intel_supported();
  EXPECT_EQ(get(entries, 4, 3).eax, 0x1c03c163u);
  EXPECT_EQ(find_cpuid_entry(entries, 4, 9), nullptr);
  EXPECT_EQ(get(entries, 1, 5).eax, 0x000906eau);  // leaf 1 is not indexed
  EXPECT_EQ(find_cpuid_entry(entries, 0x12345678), nullptr);
}

TEST(Cpuid, Leaf1PerVcpuApicIdsOf4) {
  for (uint32_t cpu = 0; cpu < 4; ++cpu) {
    auto entries = intel_supported();
    configure_cpuid(entries, cpu, 4);
    const auto& leaf1 = get(entries, 1);
    EXPECT_EQ(leaf1.ebx >> 24, cpu) << "APIC ID of vCPU " << cpu;
    EXPECT_EQ((leaf1.ebx >> 16) & 0xff, 4u);
    EXPECT_EQ(leaf1.ebx & 0xffff, 0x0800u);  // CLFLUSH size and brand index kept
    EXPECT_NE(leaf1.edx & kCpuid1EdxHtt, 0u);
    EXPECT_NE(leaf1.ecx & kCpuid1EcxHypervisor, 0u);
    EXPECT_EQ(leaf1.ecx & ~kCpuid1EcxHypervisor, 0x77faf3ffu);
    EXPECT_EQ(leaf1.eax, 0x000906eau);
  }
}

TEST(Cpuid, SingleVcpuHasNoHtt) {
  auto entries = intel_supported();
  entries[1].edx |= kCpuid1EdxHtt;
  configure_cpuid(entries, 0, 1);
  const auto& leaf1 = get(entries, 1);
  EXPECT_EQ(leaf1.edx & kCpuid1EdxHtt, 0u);
  EXPECT_EQ((leaf1.ebx >> 16) & 0xff, 1u);
  EXPECT_EQ(leaf1.ebx >> 24, 0u);
}

TEST(Cpuid, TopologyLeavesDescribeOnePackageOfCores) {
  for (uint32_t function : {0xbU, 0x1fU}) {
    for (uint32_t cpu = 0; cpu < 4; ++cpu) {
      auto entries = intel_supported();
      configure_cpuid(entries, cpu, 4);
      EXPECT_EQ(count_leaf(entries, function), 3u);
      const auto& smt = get(entries, function, 0);
      EXPECT_EQ(smt.flags & kIndexed, kIndexed);
      EXPECT_EQ(smt.eax, 0u);      // no thread bits
      EXPECT_EQ(smt.ebx, 1u);      // one thread per core
      EXPECT_EQ(smt.ecx, 0x100u);  // level 0, type SMT
      EXPECT_EQ(smt.edx, cpu);
      const auto& core = get(entries, function, 1);
      EXPECT_EQ(core.eax, 2u);  // 4 cores need 2 APIC ID bits
      EXPECT_EQ(core.ebx, 4u);
      EXPECT_EQ(core.ecx, 0x201u);  // level 1, type core
      EXPECT_EQ(core.edx, cpu);
      const auto& end = get(entries, function, 2);
      EXPECT_EQ(end.ebx, 0u);
      EXPECT_EQ(end.ecx, 0x2u);  // level 2, type invalid
    }
  }
}

TEST(Cpuid, TopologyShiftRoundsUpToPowerOfTwo) {
  for (auto [count, shift] : {std::pair{1U, 0U},
                              {2U, 1U},
                              {3U, 2U},
                              {5U, 3U},
                              {8U, 3U},
                              {9U, 4U},
                              {64U, 6U},
                              {255U, 8U}}) {
    auto entries = intel_supported();
    configure_cpuid(entries, count - 1, count);
    EXPECT_EQ(get(entries, 0xb, 1).eax, shift) << count;
    EXPECT_EQ(get(entries, 0xb, 1).ebx, count);
    EXPECT_EQ(get(entries, 0xb, 0).edx, count - 1);
  }
}

TEST(Cpuid, HostTopologyIsReplaced) {
  auto entries = intel_supported();
  // Older KVM copies the host's subleaves: 2 threads, 32 logical CPUs, host x2APIC IDs.
  std::erase_if(entries, [](const auto& e) { return e.function == 0xb; });
  entries.push_back(entry(0xb, 0, kIndexed, 1, 2, 0x100, 0x37));
  entries.push_back(entry(0xb, 1, kIndexed, 5, 32, 0x201, 0x37));
  entries.push_back(entry(0xb, 2, kIndexed, 0, 0, 0x2, 0x37));
  configure_cpuid(entries, 1, 2);
  EXPECT_EQ(count_leaf(entries, 0xb), 3u);
  EXPECT_EQ(get(entries, 0xb, 0).ebx, 1u);
  EXPECT_EQ(get(entries, 0xb, 1).ebx, 2u);
  EXPECT_EQ(get(entries, 0xb, 1).edx, 1u);
}

TEST(Cpuid, TopologyLeavesOnlyWhereTheCpuHasThem) {
  auto entries = intel_supported();
  std::erase_if(entries, [](const auto& e) { return e.function == 0x1f; });
  entries[0].eax = 0xd;  // max basic leaf 0xd: neither 0xB nor 0x1F may appear
  configure_cpuid(entries, 0, 2);
  EXPECT_EQ(count_leaf(entries, 0x1f), 0u);
  EXPECT_EQ(count_leaf(entries, 0xb), 3u);  // 0xb <= 0xd

  auto old = intel_supported();
  old[0].eax = 0xa;
  configure_cpuid(old, 0, 2);
  EXPECT_EQ(count_leaf(old, 0xb), 0u);
  EXPECT_EQ(count_leaf(old, 0x1f), 0u);
}

TEST(Cpuid, IntelCacheLeafCoresAndSharing) {
  auto entries = intel_supported();
  configure_cpuid(entries, 2, 4);
  for (uint32_t i = 0; i < 3; ++i) {  // L1d, L1i, L2: private
    EXPECT_EQ(get(entries, 4, i).eax >> 26, 3u) << i;
    EXPECT_EQ((get(entries, 4, i).eax >> 14) & 0xfff, 0u) << i;
    EXPECT_EQ(get(entries, 4, i).eax & 0x3fff, intel_supported()[2 + i].eax & 0x3fff) << i;
  }
  EXPECT_EQ(get(entries, 4, 3).eax >> 26, 3u);
  EXPECT_EQ((get(entries, 4, 3).eax >> 14) & 0xfff, 3u);  // L3 shared by all 4
  EXPECT_EQ(get(entries, 4, 3).ebx, 0x03c0003fu);         // geometry kept
  EXPECT_EQ(get(entries, 4, 4).eax, 0u);                  // terminator untouched
}

TEST(Cpuid, OtherLeavesAreLeftAsKvmSaid) {
  auto entries = intel_supported();
  configure_cpuid(entries, 3, 4);
  EXPECT_EQ(get(entries, 6).eax, 0x4u);
  EXPECT_EQ(get(entries, 0x80000001).ecx, 0x121u);  // CmpLegacy is an AMD matter
  EXPECT_EQ(get(entries, 0x80000008).ecx, 0u);
  EXPECT_EQ(get(entries, 0).eax, 0x1fu);
}

TEST(Cpuid, KvmLeavesKept) {
  auto entries = intel_supported();
  configure_cpuid(entries, 0, 4);
  EXPECT_EQ(count_leaf(entries, 0x40000000), 1u);
  EXPECT_EQ(count_leaf(entries, 0x40000001), 1u);
  EXPECT_EQ(kvm_signature(get(entries, 0x40000000)), std::string("KVMKVMKVM\0\0\0", 12));
  EXPECT_EQ(get(entries, 0x40000000).eax, 0x40000001u);
  EXPECT_EQ(get(entries, 0x40000001).eax, kKvmFeatureBits);
}

TEST(Cpuid, KvmLeavesAddedWhenMissing) {
  auto entries = intel_supported();
  std::erase_if(entries, [](const auto& e) { return (e.function >> 28) == 4; });
  configure_cpuid(entries, 0, 1);
  EXPECT_EQ(kvm_signature(get(entries, 0x40000000)), std::string("KVMKVMKVM\0\0\0", 12));
  EXPECT_EQ(get(entries, 0x40000000).eax, 0x40000001u);
  EXPECT_EQ(get(entries, 0x40000001).eax, 0u);  // KVM offered no features
}

TEST(Cpuid, AmdTopologyLeaves) {
  for (uint32_t cpu = 0; cpu < 4; ++cpu) {
    auto entries = amd_supported();
    configure_cpuid(entries, cpu, 4);
    EXPECT_EQ(get(entries, 1).ebx >> 24, cpu);
    EXPECT_NE(get(entries, 0x80000001).ecx & kCpuidExt1EcxCmpLegacy, 0u);
    const auto& sizes = get(entries, 0x80000008);
    EXPECT_EQ(sizes.ecx & 0xff, 3u);           // NC: 4 cores
    EXPECT_EQ((sizes.ecx >> 12) & 0xf, 2u);    // ApicIdSize
    EXPECT_EQ(sizes.ecx & 0x30000, 0x30000u);  // PerfTscSize kept
    EXPECT_EQ(sizes.eax, 0x3030u);
    const auto& ext_apic = get(entries, 0x8000001e);
    EXPECT_EQ(ext_apic.eax, cpu);
    EXPECT_EQ(ext_apic.ebx, cpu);  // core ID = index, one thread per core
    EXPECT_EQ(ext_apic.ecx, 0u);   // node 0 of 1
    EXPECT_EQ((get(entries, 0x8000001d, 0).eax >> 14) & 0xfff, 0u);
    EXPECT_EQ((get(entries, 0x8000001d, 3).eax >> 14) & 0xfff, 3u);
    EXPECT_EQ(get(entries, 4).eax, 0x1234u);  // Intel-only leaf untouched
    EXPECT_EQ(get(entries, 0xb, 0).edx, cpu);
  }
}

TEST(Cpuid, AmdSingleVcpuClearsCmpLegacy) {
  auto entries = amd_supported();
  entries[7].ecx |= kCpuidExt1EcxCmpLegacy;
  configure_cpuid(entries, 0, 1);
  EXPECT_EQ(get(entries, 0x80000001).ecx & kCpuidExt1EcxCmpLegacy, 0u);
  EXPECT_EQ(get(entries, 0x80000008).ecx & 0xf0ff, 0u);
}

TEST(Cpuid, RefusesBadCounts) {
  auto entries = intel_supported();
  EXPECT_THROW(configure_cpuid(entries, 0, 0), vmm::ConfigError);
  EXPECT_THROW(configure_cpuid(entries, 0, kMaxCpuidCpus + 1), vmm::ConfigError);
  EXPECT_THROW(configure_cpuid(entries, 4, 4), vmm::Error);
  EXPECT_NO_THROW(configure_cpuid(entries, kMaxCpuidCpus - 1, kMaxCpuidCpus));
}

// The 48 bytes of leaves 0x80000002..0x80000004, EAX EBX ECX EDX each.
std::string brand_bytes(const std::vector<kvm_cpuid_entry2>& entries) {
  std::string bytes;
  for (uint32_t leaf = 0x80000002; leaf <= 0x80000004; ++leaf) {
    const auto& e = get(entries, leaf);
    for (const uint32_t reg : {e.eax, e.ebx, e.ecx, e.edx}) {
      char four[4];
      std::memcpy(four, &reg, 4);
      bytes.append(four, 4);
    }
  }
  return bytes;
}

std::string brand_of(const std::vector<kvm_cpuid_entry2>& entries) {
  const std::string bytes = brand_bytes(entries);
  return bytes.substr(0, bytes.find('\0'));
}

// Adds leaves 0x80000002..0x80000004 holding `brand`, NUL-padded to 48 bytes.
std::vector<kvm_cpuid_entry2> with_brand_leaves(std::vector<kvm_cpuid_entry2> entries,
                                                std::string brand) {
  brand.resize(48, '\0');
  for (std::size_t i = 0; i < 3; ++i) {
    uint32_t regs[4];
    std::memcpy(regs, brand.data() + 16 * i, sizeof(regs));
    entries.push_back(
        entry(static_cast<uint32_t>(0x80000002 + i), 0, 0, regs[0], regs[1], regs[2], regs[3]));
  }
  return entries;
}

TEST(Cpuid, BrandAddedWhenMissing) {
  auto entries = intel_supported();
  configure_cpuid(entries, 0, 2, "Example CPU @ 3.00GHz");
  EXPECT_EQ(brand_of(entries), "Example CPU @ 3.00GHz");
  for (uint32_t leaf = 0x80000002; leaf <= 0x80000004; ++leaf) {
    EXPECT_EQ(count_leaf(entries, leaf), 1u);
  }
  EXPECT_EQ(get(entries, 0x80000000).eax, 0x80000008u);  // already above 0x80000004
}

TEST(Cpuid, BrandReplacedWhenAllZero) {
  auto entries = with_brand_leaves(amd_supported(), "");
  configure_cpuid(entries, 0, 1, "Example CPU");
  EXPECT_EQ(brand_of(entries), "Example CPU");
  EXPECT_EQ(count_leaf(entries, 0x80000003), 1u);
}

TEST(Cpuid, BrandKeptWhenKvmHasOne) {
  const std::string kvm_brand = "AMD EPYC 7B13 64-Core Processor                ";
  auto entries = with_brand_leaves(amd_supported(), kvm_brand);
  configure_cpuid(entries, 1, 2, "Example CPU");
  EXPECT_EQ(brand_bytes(entries), kvm_brand + '\0');
  EXPECT_EQ(get(entries, 0x80000000).eax, 0x80000021u);
}

TEST(Cpuid, BrandDefaultsWhenHostHasNone) {
  auto entries = intel_supported();
  configure_cpuid(entries, 0, 1, "");
  EXPECT_EQ(brand_of(entries), kDefaultCpuBrand);
}

TEST(Cpuid, BrandRaisesMaxExtendedLeaf) {
  auto low = intel_supported();
  for (auto& e : low) {
    if (e.function == 0x80000000) e.eax = 0x80000001;
  }
  set_cpuid_brand(low, "Example CPU");
  EXPECT_EQ(get(low, 0x80000000).eax, 0x80000004u);

  auto none = intel_supported();
  std::erase_if(none, [](const auto& e) { return e.function >= 0x80000000; });
  configure_cpuid(none, 0, 1, "Example CPU");
  EXPECT_EQ(count_leaf(none, 0x80000000), 1u);
  EXPECT_EQ(get(none, 0x80000000).eax, 0x80000004u);
  EXPECT_EQ(brand_of(none), "Example CPU");
}

TEST(Cpuid, BrandTruncatedTo47AndNulPadded) {
  auto entries = intel_supported();
  const std::string long_brand(60, 'x');
  set_cpuid_brand(entries, long_brand);
  EXPECT_EQ(brand_bytes(entries), std::string(47, 'x') + '\0');

  set_cpuid_brand(entries, "short");  // overwrites: no stale tail
  EXPECT_EQ(brand_bytes(entries), std::string("short") + std::string(43, '\0'));
  EXPECT_EQ(count_leaf(entries, 0x80000002), 1u);
}

TEST(Cpuid, HasBrandNeedsAllThreeLeaves) {
  auto entries = with_brand_leaves(intel_supported(), "Example CPU");
  EXPECT_TRUE(has_cpuid_brand(entries));
  std::erase_if(entries, [](const auto& e) { return e.function == 0x80000004; });
  EXPECT_FALSE(has_cpuid_brand(entries));
  EXPECT_FALSE(has_cpuid_brand(intel_supported()));
}

TEST(Cpuid, HostBrandIsTrimmed) {
  const std::string brand = host_cpu_brand();
  EXPECT_LE(brand.size(), kCpuidBrandSize - 1);
  EXPECT_EQ(brand.find('\0'), std::string::npos);
  if (!brand.empty()) {
    EXPECT_NE(brand.front(), ' ');
    EXPECT_NE(brand.back(), ' ');
  }
}

TEST(Cpuid, DefaultFormUsesHostBrand) {
  auto entries = intel_supported();
  configure_cpuid(entries, 0, 1);
  const std::string host = host_cpu_brand();
  EXPECT_EQ(brand_of(entries), host.empty() ? std::string(kDefaultCpuBrand) : host);
}

}  // namespace
}  // namespace vmm::x86_64
