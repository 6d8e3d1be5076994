#pragma once
// A small AML (ACPI Machine Language) encoder: just the terms a VMM's DSDT needs, each returned
// as its encoded bytes so definitions compose by nesting calls. Grammar and opcodes follow the
// ACPI 6.x specification, chapter 20 (AML); resource descriptors follow chapter 6.4.
//
// Invalid input (a malformed name, an out-of-range value) throws vmm::Error: the DSDT is built
// from the VMM's own device inventory, so it means a bug, not a user mistake.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace vmm::x86_64::aml {

using Bytes = std::vector<uint8_t>;

// --- Encoding primitives ---

// The PkgLength encoding of `total`, a length that counts the encoding's own 1-4 bytes.
[[nodiscard]] Bytes pkg_length(std::size_t total);
// `body` prefixed with the PkgLength that covers it (and itself).
[[nodiscard]] Bytes with_pkg_length(const Bytes& body);

// A NameSeg is exactly four characters, [A-Z_] then [A-Z0-9_]; shorter names are not padded.
[[nodiscard]] bool is_name_seg(std::string_view seg) noexcept;
void validate_name_seg(std::string_view seg);
// A NameString: "PCI0", "\\_SB_.PCI0", "^PWRB", or "\\" for the root.
[[nodiscard]] Bytes name_string(std::string_view path);

// --- Data objects ---

// The shortest encoding: ZeroOp, OneOp, OnesOp (all 64 bits set), then Byte/Word/DWord/QWord.
[[nodiscard]] Bytes integer(uint64_t value);
// A null-terminated ASCII string (characters 0x01..0x7f).
[[nodiscard]] Bytes string(std::string_view s);
// A compressed EISA ID ("PNP0A08" -> 0x080ad041): three letters A-Z, four hex digits (0-9A-F).
[[nodiscard]] bool is_eisa_id(std::string_view id) noexcept;
[[nodiscard]] uint32_t eisa_id(std::string_view id);
// Package(){...}; more than 255 elements take the VarPackage form.
[[nodiscard]] Bytes package(const std::vector<Bytes>& elements);
[[nodiscard]] Bytes buffer(const Bytes& data);

// --- Named objects and scopes ---

[[nodiscard]] Bytes name(std::string_view path, const Bytes& object);
[[nodiscard]] Bytes scope(std::string_view path, const std::vector<Bytes>& terms);
[[nodiscard]] Bytes device(std::string_view path, const std::vector<Bytes>& terms);

enum class MethodSync : uint8_t { kNotSerialized, kSerialized };
// arg_count: 0..7.
[[nodiscard]] Bytes method(std::string_view path, uint8_t arg_count, MethodSync sync,
                           const std::vector<Bytes>& terms);

// --- Statements and expressions ---

[[nodiscard]] Bytes arg(unsigned index);    // Arg0..Arg6
[[nodiscard]] Bytes local(unsigned index);  // Local0..Local7
[[nodiscard]] Bytes store(const Bytes& source, const Bytes& target);
[[nodiscard]] Bytes lequal(const Bytes& left, const Bytes& right);
[[nodiscard]] Bytes if_then(const Bytes& predicate, const std::vector<Bytes>& terms);
[[nodiscard]] Bytes return_value(const Bytes& value);
[[nodiscard]] Bytes notify(std::string_view path, const Bytes& value);

// --- Resource descriptors (for _CRS), ACPI 6.x section 6.4 ---

// I/O port descriptor, 16-bit decode.
[[nodiscard]] Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
// IRQNoFlags: ISA IRQ 0..15, edge-triggered, active high, exclusive.
[[nodiscard]] Bytes irq_no_flags(uint8_t irq);

enum class Trigger : uint8_t { kLevel, kEdge };
enum class Polarity : uint8_t { kActiveHigh, kActiveLow };
enum class Sharing : uint8_t { kExclusive, kShared };
// Extended Interrupt descriptor (ResourceConsumer) for one GSI.
[[nodiscard]] Bytes extended_interrupt(uint32_t gsi, Trigger trigger, Polarity polarity,
                                       Sharing sharing);

[[nodiscard]] Bytes memory32_fixed(uint32_t base, uint32_t length, bool writable);

// Address space descriptors of a bridge (ResourceProducer, MinFixed, MaxFixed, PosDecode,
// granularity 0, no translation) covering [min, max].
[[nodiscard]] Bytes word_bus_number(uint16_t min, uint16_t max);
[[nodiscard]] Bytes word_io(uint16_t min, uint16_t max);  // EntireRange
enum class Cacheability : uint8_t { kNonCacheable, kCacheable, kWriteCombining, kPrefetchable };
[[nodiscard]] Bytes dword_memory(uint32_t min, uint32_t max, Cacheability cache, bool writable);
[[nodiscard]] Bytes qword_memory(uint64_t min, uint64_t max, Cacheability cache, bool writable);

// ResourceTemplate(){...}: a Buffer of the descriptors and an End Tag (checksum 0, which the
// specification defines as "treat as valid").
[[nodiscard]] Bytes resource_template(const std::vector<Bytes>& descriptors);

}  // namespace vmm::x86_64::aml
