#pragma once
// Per-vCPU CPUID: KVM_GET_SUPPORTED_CPUID describes what the host and KVM can offer, but not
// this VM's topology. configure_cpuid() fills in what differs per vCPU (APIC IDs) and what
// describes the topology the VMM chose: one package, `cpu_count` cores, one thread per core,
// APIC ID = vCPU index. Everything else is left exactly as KVM reported it, except that a
// brand string KVM does not offer is filled in (guests name the CPU after it).
#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmm::x86_64 {

// Leaves (Intel SDM vol. 2A "CPUID"; AMD APM vol. 3 appendix E; Linux KVM API doc).
inline constexpr uint32_t kCpuidLeafVendor = 0x0;
inline constexpr uint32_t kCpuidLeafFeatures = 0x1;
inline constexpr uint32_t kCpuidLeafCacheParams = 0x4;
inline constexpr uint32_t kCpuidLeafTopology = 0xb;
inline constexpr uint32_t kCpuidLeafTopologyV2 = 0x1f;
inline constexpr uint32_t kCpuidLeafKvmSignature = 0x40000000;
inline constexpr uint32_t kCpuidLeafKvmFeatures = 0x40000001;
inline constexpr uint32_t kCpuidLeafExtMax = 0x80000000;
inline constexpr uint32_t kCpuidLeafExtFeatures = 0x80000001;
inline constexpr uint32_t kCpuidLeafBrandFirst = 0x80000002;  // ..0x80000004, 16 bytes each
inline constexpr uint32_t kCpuidLeafBrandLast = 0x80000004;
inline constexpr uint32_t kCpuidLeafAmdSizes = 0x80000008;
inline constexpr uint32_t kCpuidLeafAmdCacheTopology = 0x8000001d;
inline constexpr uint32_t kCpuidLeafAmdExtApicId = 0x8000001e;

// Bits this file sets.
inline constexpr uint32_t kCpuid1EcxHypervisor = 1U << 31;
inline constexpr uint32_t kCpuid1EdxHtt = 1U << 28;
inline constexpr uint32_t kCpuidExt1EcxCmpLegacy = 1U << 1;
// Leaf 0xB/0x1F level types (ECX bits 15:8).
inline constexpr uint32_t kTopologyLevelInvalid = 0;
inline constexpr uint32_t kTopologyLevelSmt = 1;
inline constexpr uint32_t kTopologyLevelCore = 2;

// The 8-bit APIC ID in leaf 1 (and the MP table) bounds the vCPU count this layout supports.
inline constexpr uint32_t kMaxCpuidCpus = 255;

// The processor brand string: 48 bytes over three leaves, NUL-terminated, so at most 47
// characters.
inline constexpr std::size_t kCpuidBrandSize = 48;
// What guests see when neither KVM nor the host offers a brand string.
inline constexpr std::string_view kDefaultCpuBrand = "vmm virtual CPU";

enum class CpuVendor { kIntel, kAmd, kOther };

// From leaf 0's vendor string; kOther when leaf 0 is missing or unknown.
[[nodiscard]] CpuVendor cpuid_vendor(std::span<const kvm_cpuid_entry2> entries) noexcept;

// The entry for (function, index), nullptr when absent. `index` is ignored for leaves KVM does
// not flag as indexed (KVM_CPUID_FLAG_SIGNIFCANT_INDEX).
[[nodiscard]] const kvm_cpuid_entry2* find_cpuid_entry(std::span<const kvm_cpuid_entry2> entries,
                                                       uint32_t function,
                                                       uint32_t index = 0) noexcept;

// The brand string of the CPU this process runs on, without padding (leading or trailing
// spaces, trailing NULs); empty when the CPU has none.
[[nodiscard]] std::string host_cpu_brand();

// True when leaves 0x80000002..0x80000004 are all present and not all zero.
[[nodiscard]] bool has_cpuid_brand(std::span<const kvm_cpuid_entry2> entries) noexcept;

// Sets leaves 0x80000002..0x80000004 to `brand`, cut to 47 characters and NUL-padded to 48
// bytes, adding the leaves when missing; raises leaf 0x80000000's EAX (the highest extended
// leaf) to at least 0x80000004, adding that leaf when missing.
void set_cpuid_brand(std::vector<kvm_cpuid_entry2>& entries, std::string_view brand);

// Adapts KVM_GET_SUPPORTED_CPUID output in place for vCPU `cpu_index` of `cpu_count`:
//  leaf 1: EBX[31:24] initial APIC ID, EBX[23:16] logical processor count, HTT when more than
//          one vCPU, ECX[31] hypervisor present;
//  leaf 0xB (and 0x1F when KVM reports it): replaced by SMT (1 thread) and core (cpu_count
//          cores) levels, EDX = x2APIC ID;
//  Intel leaf 4: cores per package and threads sharing each cache;
//  AMD 0x80000001 CmpLegacy, 0x80000008 ECX core count, 0x8000001D cache sharing and
//          0x8000001E extended APIC ID (when present);
//  0x40000000/0x40000001: KVM signature and features kept, added if missing;
//  0x80000002..0x80000004: KVM's brand string kept; when KVM offers none (leaves missing or
//          all zero), set to `brand`, or kDefaultCpuBrand when that is empty.
// Throws vmm::ConfigError when cpu_count is 0 or above kMaxCpuidCpus, vmm::Error when
// cpu_index >= cpu_count.
void configure_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t cpu_index, uint32_t cpu_count,
                     std::string_view brand);

// As above, with the host's brand string (host_cpu_brand()).
void configure_cpuid(std::vector<kvm_cpuid_entry2>& entries, uint32_t cpu_index,
                     uint32_t cpu_count);

}  // namespace vmm::x86_64
