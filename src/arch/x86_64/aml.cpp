#include "arch/x86_64/aml.hpp"

#include <initializer_list>
#include <limits>
#include <string>

#include "arch/x86_64/byte_writer.hpp"
#include "vmm/common/error.hpp"

namespace vmm::x86_64::aml {

namespace {

// Opcodes and prefixes, ACPI 6.x section 20.3.
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kVarPackageOp = 0x13;
constexpr uint8_t kMethodOp = 0x14;
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
constexpr uint8_t kRootChar = 0x5c;
constexpr uint8_t kParentPrefixChar = 0x5e;
constexpr uint8_t kNullName = 0x00;
constexpr uint8_t kLocal0Op = 0x60;
constexpr uint8_t kArg0Op = 0x68;
constexpr uint8_t kStoreOp = 0x70;
constexpr uint8_t kNotifyOp = 0x86;
constexpr uint8_t kLEqualOp = 0x93;
constexpr uint8_t kIfOp = 0xa0;
constexpr uint8_t kReturnOp = 0xa4;
constexpr uint8_t kOnesOp = 0xff;

constexpr unsigned kArgCount = 7;
constexpr unsigned kLocalCount = 8;
constexpr uint8_t kMethodSerialized = 1U << 3;
constexpr std::size_t kPackageOpMaxElements = 0xff;  // NumElements is one byte

// PkgLength: the lead byte alone holds up to 63; otherwise its bits 7:6 count 1-3 following
// bytes, its low nibble holds bits 3:0 and each following byte the next 8 bits.
constexpr std::size_t kPkgLengthOneByteMax = 0x3f;
constexpr unsigned kPkgLengthMaxBytes = 4;
constexpr std::size_t pkg_length_max(unsigned bytes) {
  return bytes == 1 ? kPkgLengthOneByteMax : (std::size_t{1} << (4 + 8 * (bytes - 1))) - 1;
}

// Small resource items: tag byte = item name << 3 | data length. Large items: 0x80 | name,
// then a 16-bit data length.
constexpr uint8_t kSmallIrq = 0x04;
constexpr uint8_t kSmallIo = 0x08;
constexpr uint8_t kSmallEndTag = 0x0f;
constexpr uint8_t kLargeMemory32Fixed = 0x86;
constexpr uint8_t kLargeDWordAddress = 0x87;
constexpr uint8_t kLargeWordAddress = 0x88;
constexpr uint8_t kLargeExtendedIrq = 0x89;
constexpr uint8_t kLargeQWordAddress = 0x8a;

constexpr uint8_t small_tag(uint8_t item, uint8_t length) {
  return static_cast<uint8_t>(item << 3 | length);
}

constexpr uint8_t kIoDecode16 = 1U << 0;
constexpr uint8_t kIsaIrqCount = 16;
// Extended interrupt flags.
constexpr uint8_t kIntConsumer = 1U << 0;
constexpr uint8_t kIntEdge = 1U << 1;
constexpr uint8_t kIntActiveLow = 1U << 2;
constexpr uint8_t kIntShared = 1U << 3;
constexpr uint8_t kMemReadWrite = 1U << 0;
// Address space descriptors: resource types and general flags (producer, positive decode,
// minimum and maximum fixed).
constexpr uint8_t kAddrMemory = 0;
constexpr uint8_t kAddrIo = 1;
constexpr uint8_t kAddrBusNumber = 2;
constexpr uint8_t kAddrMinFixed = 1U << 2;
constexpr uint8_t kAddrMaxFixed = 1U << 3;
constexpr uint8_t kIoEntireRange = 3;

Bytes join(const std::vector<Bytes>& parts) {
  ByteWriter w;
  for (const auto& p : parts) w.bytes(p);
  return w.take();
}

Bytes op_with_pkg_length(std::initializer_list<uint8_t> opcode, const std::vector<Bytes>& body) {
  Bytes out(opcode);
  const Bytes rest = with_pkg_length(join(body));
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

bool is_lead_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_lead_char(c) || (c >= '0' && c <= '9'); }
bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }
unsigned hex_value(char c) { return static_cast<unsigned>(c <= '9' ? c - '0' : c - 'A' + 10); }

// Writes `v` in `width` little-endian bytes.
void put(ByteWriter& w, unsigned width, uint64_t v) {
  for (unsigned i = 0; i < width; ++i) w.u8(static_cast<uint8_t>(v >> (8 * i)));
}

Bytes address_space(uint8_t tag, unsigned width, uint8_t type, uint8_t type_flags, uint64_t min,
                    uint64_t max) {
  const uint64_t width_max =
      width == 8 ? std::numeric_limits<uint64_t>::max() : (uint64_t{1} << (8 * width)) - 1;
  if (min > max || max > width_max || max - min == width_max) {
    throw Error("AML address space descriptor: invalid range " + std::to_string(min) + ".." +
                std::to_string(max));
  }
  ByteWriter w;
  w.u8(tag);
  w.u16(static_cast<uint16_t>(3 + 5 * width));  // type, two flag bytes, five fields
  w.u8(type);
  w.u8(kAddrMinFixed | kAddrMaxFixed);
  w.u8(type_flags);
  put(w, width, 0);  // granularity
  put(w, width, min);
  put(w, width, max);
  put(w, width, 0);  // translation offset
  put(w, width, max - min + 1);
  return w.take();
}

uint8_t memory_flags(Cacheability cache, bool writable) {
  return static_cast<uint8_t>(static_cast<uint8_t>(cache) << 1 | (writable ? kMemReadWrite : 0));
}

}  // namespace

Bytes pkg_length(std::size_t total) {
  if (total <= kPkgLengthOneByteMax) return {static_cast<uint8_t>(total)};
  for (unsigned bytes = 2; bytes <= kPkgLengthMaxBytes; ++bytes) {
    if (total > pkg_length_max(bytes)) continue;
    Bytes out{static_cast<uint8_t>((bytes - 1) << 6 | (total & 0x0f))};
    for (unsigned i = 1; i < bytes; ++i) out.push_back(static_cast<uint8_t>(total >> (8 * i - 4)));
    return out;
  }
  throw Error("AML package length " + std::to_string(total) + " exceeds 2^28 - 1");
}

Bytes with_pkg_length(const Bytes& body) {
  // The smallest encoding whose range holds the body plus the encoding itself.
  unsigned bytes = 1;
  while (bytes < kPkgLengthMaxBytes && body.size() + bytes > pkg_length_max(bytes)) ++bytes;
  Bytes out = pkg_length(body.size() + bytes);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

bool is_name_seg(std::string_view seg) noexcept {
  return seg.size() == 4 && is_lead_char(seg[0]) && is_name_char(seg[1]) && is_name_char(seg[2]) &&
         is_name_char(seg[3]);
}

void validate_name_seg(std::string_view seg) {
  if (!is_name_seg(seg)) {
    throw Error("invalid ACPI name \"" + std::string(seg) +
                "\": need exactly 4 characters, [A-Z_] then [A-Z0-9_]");
  }
}

Bytes name_string(std::string_view path) {
  ByteWriter w;
  std::string_view rest = path;
  if (!rest.empty() && rest.front() == '\\') {
    w.u8(kRootChar);
    rest.remove_prefix(1);
  } else {
    while (!rest.empty() && rest.front() == '^') {
      w.u8(kParentPrefixChar);
      rest.remove_prefix(1);
    }
  }
  if (rest.empty()) {
    if (w.size() == 0) throw Error("empty ACPI name");
    w.u8(kNullName);
    return w.take();
  }
  std::vector<std::string_view> segs;
  for (std::size_t dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
    segs.push_back(rest.substr(0, dot));
    rest.remove_prefix(dot + 1);
  }
  segs.push_back(rest);
  for (auto seg : segs) validate_name_seg(seg);
  if (segs.size() > std::numeric_limits<uint8_t>::max()) {
    throw Error("ACPI name path too long: " + std::string(path));
  }
  if (segs.size() == 2) {
    w.u8(kDualNamePrefix);
  } else if (segs.size() > 2) {
    w.u8(kMultiNamePrefix);
    w.u8(static_cast<uint8_t>(segs.size()));
  }
  for (auto seg : segs) w.text(seg, 4);
  return w.take();
}

Bytes integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  if (value == std::numeric_limits<uint64_t>::max()) return {kOnesOp};
  ByteWriter w;
  if (value <= std::numeric_limits<uint8_t>::max()) {
    w.u8(kBytePrefix);
    w.u8(static_cast<uint8_t>(value));
  } else if (value <= std::numeric_limits<uint16_t>::max()) {
    w.u8(kWordPrefix);
    w.u16(static_cast<uint16_t>(value));
  } else if (value <= std::numeric_limits<uint32_t>::max()) {
    w.u8(kDWordPrefix);
    w.u32(static_cast<uint32_t>(value));
  } else {
    w.u8(kQWordPrefix);
    w.u64(value);
  }
  return w.take();
}

Bytes string(std::string_view s) {
  ByteWriter w;
  w.u8(kStringPrefix);
  for (char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if (b == 0 || b > 0x7f) throw Error("AML string with a non-ASCII or NUL character");
    w.u8(b);
  }
  w.u8(0);
  return w.take();
}

bool is_eisa_id(std::string_view id) noexcept {
  if (id.size() != 7) return false;
  for (std::size_t i = 0; i < 3; ++i) {
    if (id[i] < 'A' || id[i] > 'Z') return false;
  }
  for (std::size_t i = 3; i < 7; ++i) {
    if (!is_upper_hex(id[i])) return false;
  }
  return true;
}

uint32_t eisa_id(std::string_view id) {
  if (!is_eisa_id(id)) {
    throw Error("invalid EISA ID \"" + std::string(id) + "\": need 3 letters and 4 hex digits");
  }
  // Bytes in memory: the vendor's 3 x 5-bit letters (A = 1) big-endian in 16 bits, then the
  // product number's 4 nibbles, also big-endian; the integer reads them little-endian.
  const auto letter = [](char c) { return static_cast<unsigned>(c - 'A' + 1); };
  const unsigned vendor = letter(id[0]) << 10 | letter(id[1]) << 5 | letter(id[2]);
  unsigned product = 0;
  for (std::size_t i = 3; i < 7; ++i) product = product << 4 | hex_value(id[i]);
  return (vendor >> 8) | (vendor & 0xffU) << 8 | (product >> 8) << 16 | (product & 0xffU) << 24;
}

Bytes package(const std::vector<Bytes>& elements) {
  if (elements.size() <= kPackageOpMaxElements) {
    Bytes body{static_cast<uint8_t>(elements.size())};
    const Bytes rest = join(elements);
    body.insert(body.end(), rest.begin(), rest.end());
    return op_with_pkg_length({kPackageOp}, {body});
  }
  return op_with_pkg_length({kVarPackageOp}, {integer(elements.size()), join(elements)});
}

Bytes buffer(const Bytes& data) {
  return op_with_pkg_length({kBufferOp}, {integer(data.size()), data});
}

Bytes name(std::string_view path, const Bytes& object) {
  Bytes out{kNameOp};
  const Bytes n = name_string(path);
  out.insert(out.end(), n.begin(), n.end());
  out.insert(out.end(), object.begin(), object.end());
  return out;
}

Bytes scope(std::string_view path, const std::vector<Bytes>& terms) {
  return op_with_pkg_length({kScopeOp}, {name_string(path), join(terms)});
}

Bytes device(std::string_view path, const std::vector<Bytes>& terms) {
  return op_with_pkg_length({kExtOpPrefix, kDeviceOp}, {name_string(path), join(terms)});
}

Bytes method(std::string_view path, uint8_t arg_count, MethodSync sync,
             const std::vector<Bytes>& terms) {
  if (arg_count >= kArgCount + 1) throw Error("AML method with more than 7 arguments");
  const auto flags =
      static_cast<uint8_t>(arg_count | (sync == MethodSync::kSerialized ? kMethodSerialized : 0));
  return op_with_pkg_length({kMethodOp}, {name_string(path), {flags}, join(terms)});
}

Bytes arg(unsigned index) {
  if (index >= kArgCount) throw Error("AML Arg" + std::to_string(index) + " does not exist");
  return {static_cast<uint8_t>(kArg0Op + index)};
}

Bytes local(unsigned index) {
  if (index >= kLocalCount) throw Error("AML Local" + std::to_string(index) + " does not exist");
  return {static_cast<uint8_t>(kLocal0Op + index)};
}

Bytes store(const Bytes& source, const Bytes& target) { return join({{kStoreOp}, source, target}); }

Bytes lequal(const Bytes& left, const Bytes& right) { return join({{kLEqualOp}, left, right}); }

Bytes if_then(const Bytes& predicate, const std::vector<Bytes>& terms) {
  return op_with_pkg_length({kIfOp}, {predicate, join(terms)});
}

Bytes return_value(const Bytes& value) { return join({{kReturnOp}, value}); }

Bytes notify(std::string_view path, const Bytes& value) {
  return join({{kNotifyOp}, name_string(path), value});
}

Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
  if (min > max) throw Error("AML IO descriptor: minimum above maximum");
  ByteWriter w;
  w.u8(small_tag(kSmallIo, 7));
  w.u8(kIoDecode16);
  w.u16(min);
  w.u16(max);
  w.u8(alignment);
  w.u8(length);
  return w.take();
}

Bytes irq_no_flags(uint8_t irq) {
  if (irq >= kIsaIrqCount) throw Error("AML IRQ descriptor: IRQ " + std::to_string(irq) + " > 15");
  ByteWriter w;
  w.u8(small_tag(kSmallIrq, 2));
  w.u16(static_cast<uint16_t>(1U << irq));
  return w.take();
}

Bytes extended_interrupt(uint32_t gsi, Trigger trigger, Polarity polarity, Sharing sharing) {
  ByteWriter w;
  w.u8(kLargeExtendedIrq);
  w.u16(6);  // flags, count, one 32-bit interrupt number
  w.u8(static_cast<uint8_t>(kIntConsumer | (trigger == Trigger::kEdge ? kIntEdge : 0) |
                            (polarity == Polarity::kActiveLow ? kIntActiveLow : 0) |
                            (sharing == Sharing::kShared ? kIntShared : 0)));
  w.u8(1);
  w.u32(gsi);
  return w.take();
}

Bytes memory32_fixed(uint32_t base, uint32_t length, bool writable) {
  if (length == 0 || base > std::numeric_limits<uint32_t>::max() - (length - 1)) {
    throw Error("AML Memory32Fixed descriptor: range beyond 4 GiB or empty");
  }
  ByteWriter w;
  w.u8(kLargeMemory32Fixed);
  w.u16(9);  // information byte, base, length
  w.u8(writable ? kMemReadWrite : 0);
  w.u32(base);
  w.u32(length);
  return w.take();
}

Bytes word_bus_number(uint16_t min, uint16_t max) {
  return address_space(kLargeWordAddress, 2, kAddrBusNumber, 0, min, max);
}

Bytes word_io(uint16_t min, uint16_t max) {
  return address_space(kLargeWordAddress, 2, kAddrIo, kIoEntireRange, min, max);
}

Bytes dword_memory(uint32_t min, uint32_t max, Cacheability cache, bool writable) {
  return address_space(kLargeDWordAddress, 4, kAddrMemory, memory_flags(cache, writable), min, max);
}

Bytes qword_memory(uint64_t min, uint64_t max, Cacheability cache, bool writable) {
  return address_space(kLargeQWordAddress, 8, kAddrMemory, memory_flags(cache, writable), min, max);
}

Bytes resource_template(const std::vector<Bytes>& descriptors) {
  Bytes data = join(descriptors);
  data.push_back(small_tag(kSmallEndTag, 1));
  data.push_back(0);  // checksum
  return buffer(data);
}

}  // namespace vmm::x86_64::aml
