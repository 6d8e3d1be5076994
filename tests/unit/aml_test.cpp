#include "arch/x86_64/aml.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vmm/common/error.hpp"

namespace vmm::x86_64::aml {
namespace {

// An independent PkgLength reader (ACPI 6.x, 20.2.4): returns {value, bytes used}.
std::pair<std::size_t, std::size_t> decode_pkg_length(const Bytes& b) {
  const std::size_t follow = b.at(0) >> 6;
  if (follow == 0) return {b.at(0) & 0x3fU, 1};
  std::size_t value = b.at(0) & 0x0fU;
  for (std::size_t i = 1; i <= follow; ++i) value |= std::size_t{b.at(i)} << (8 * i - 4);
  return {value, follow + 1};
}

Bytes bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(AmlPkgLength, EncodingsAtTheByteCountBoundaries) {
  EXPECT_EQ(pkg_length(0), Bytes({0x00}));
  EXPECT_EQ(pkg_length(63), Bytes({0x3f}));
  EXPECT_EQ(pkg_length(64), Bytes({0x40, 0x04}));
  EXPECT_EQ(pkg_length(4095), Bytes({0x4f, 0xff}));
  EXPECT_EQ(pkg_length(4096), Bytes({0x80, 0x00, 0x01}));
  EXPECT_EQ(pkg_length(0xfffff), Bytes({0x8f, 0xff, 0xff}));
  EXPECT_EQ(pkg_length(0x100000), Bytes({0xc0, 0x00, 0x00, 0x01}));
  EXPECT_EQ(pkg_length(0xfffffff), Bytes({0xcf, 0xff, 0xff, 0xff}));
  EXPECT_THROW((void)pkg_length(0x10000000), Error);
}

TEST(AmlPkgLength, CountsItsOwnBytes) {
  // {body size, expected encoding size}: the length includes the encoding, so a body of 63
  // no longer fits one byte, and one of 4094 no longer fits two.
  const std::vector<std::pair<std::size_t, std::size_t>> cases = {
      {0, 1},    {62, 1},   {63, 2},      {64, 2},      {4093, 2},
      {4094, 3}, {4095, 3}, {0xffffc, 3}, {0xffffd, 4}, {0x100000, 4}};
  for (const auto& [body_size, encoding_size] : cases) {
    const Bytes out = with_pkg_length(Bytes(body_size, 0xaa));
    const auto [value, used] = decode_pkg_length(out);
    EXPECT_EQ(used, encoding_size) << "body " << body_size;
    EXPECT_EQ(value, out.size()) << "body " << body_size;
    EXPECT_EQ(out.size(), body_size + encoding_size) << "body " << body_size;
  }
}

TEST(AmlInteger, ShortestEncoding) {
  EXPECT_EQ(integer(0), Bytes({0x00}));
  EXPECT_EQ(integer(1), Bytes({0x01}));
  EXPECT_EQ(integer(2), Bytes({0x0a, 0x02}));
  EXPECT_EQ(integer(0xff), Bytes({0x0a, 0xff}));
  EXPECT_EQ(integer(0x100), Bytes({0x0b, 0x00, 0x01}));
  EXPECT_EQ(integer(0xffff), Bytes({0x0b, 0xff, 0xff}));
  EXPECT_EQ(integer(0x10000), Bytes({0x0c, 0x00, 0x00, 0x01, 0x00}));
  EXPECT_EQ(integer(0xffffffff), Bytes({0x0c, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(integer(0x100000000), Bytes({0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(integer(0xfffffffffffffffe),
            Bytes({0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(integer(std::numeric_limits<uint64_t>::max()), Bytes({0xff}));
}

TEST(AmlString, NullTerminatedAscii) {
  EXPECT_EQ(string("LNRO0005"), cat({{0x0d}, bytes_of("LNRO0005"), {0x00}}));
  EXPECT_EQ(string(""), Bytes({0x0d, 0x00}));
  EXPECT_THROW((void)string(std::string("a\0b", 3)), Error);
  EXPECT_THROW((void)string("\xc3\xa9"), Error);
}

TEST(AmlEisaId, CompressesLikeTheAslMacro) {
  EXPECT_EQ(eisa_id("PNP0A08"), 0x080ad041U);
  EXPECT_EQ(eisa_id("PNP0A03"), 0x030ad041U);
  EXPECT_EQ(eisa_id("PNP0C0C"), 0x0c0cd041U);
  EXPECT_EQ(eisa_id("PNP0501"), 0x0105d041U);
  EXPECT_EQ(eisa_id("PNP0B00"), 0x000bd041U);
  EXPECT_EQ(eisa_id("ABC1234"), 0x34124304U);
  for (const char* bad : {"", "PNP0A0", "PNP0A080", "pnp0a08", "PNP0a08", "PN10A08", "PNP0A0G",
                          "QEMU0001", "ACPI0013"}) {
    EXPECT_FALSE(is_eisa_id(bad)) << bad;
    EXPECT_THROW((void)eisa_id(bad), Error) << bad;
  }
}

TEST(AmlNameSeg, ExactlyFourCharacters) {
  for (const char* good : {"_SB_", "PCI0", "COM1", "VR0A", "_S5_", "____", "A123"}) {
    EXPECT_TRUE(is_name_seg(good)) << good;
    EXPECT_NO_THROW(validate_name_seg(good)) << good;
  }
  for (const char* bad : {"", "COM", "_SB", "COM12", "1COM", "com1", "CO-1", "CO 1", "PCI."}) {
    EXPECT_FALSE(is_name_seg(bad)) << bad;
    EXPECT_THROW(validate_name_seg(bad), Error) << bad;
  }
}

TEST(AmlNameString, PrefixesAndMultiSegmentPaths) {
  EXPECT_EQ(name_string("PCI0"), bytes_of("PCI0"));
  EXPECT_EQ(name_string("\\_SB_"), cat({{0x5c}, bytes_of("_SB_")}));
  EXPECT_EQ(name_string("\\_SB_.PCI0"), cat({{0x5c, 0x2e}, bytes_of("_SB_PCI0")}));
  EXPECT_EQ(name_string("\\_SB_.PCI0.ISA_"), cat({{0x5c, 0x2f, 0x03}, bytes_of("_SB_PCI0ISA_")}));
  EXPECT_EQ(name_string("^^PWRB"), cat({{0x5e, 0x5e}, bytes_of("PWRB")}));
  EXPECT_EQ(name_string("\\"), Bytes({0x5c, 0x00}));
  for (const char* bad : {"", "\\_SB", "\\_SB_.", "\\_SB_..PCI0", ".PCI0", "\\^PCI0", "_SB_\\"}) {
    EXPECT_THROW((void)name_string(bad), Error) << bad;
  }
}

TEST(AmlObjects, NameScopeDeviceMethod) {
  EXPECT_EQ(name("_UID", integer(0)), cat({{0x08}, bytes_of("_UID"), {0x00}}));
  EXPECT_EQ(scope("\\_SB_", {}), cat({{0x10, 0x06, 0x5c}, bytes_of("_SB_")}));
  EXPECT_EQ(device("PWRB", {name("_UID", integer(0))}),
            cat({{0x5b, 0x82, 0x0b}, bytes_of("PWRB"), {0x08}, bytes_of("_UID"), {0x00}}));
  // Flags: bits 2:0 argument count, bit 3 serialized.
  EXPECT_EQ(method("_EVT", 1, MethodSync::kSerialized, {}),
            cat({{0x14, 0x06}, bytes_of("_EVT"), {0x09}}));
  EXPECT_EQ(method("_STA", 0, MethodSync::kNotSerialized, {return_value(integer(0x0f))}),
            cat({{0x14, 0x09}, bytes_of("_STA"), {0x00, 0xa4, 0x0a, 0x0f}}));
  EXPECT_THROW((void)method("_EVT", 8, MethodSync::kSerialized, {}), Error);
  EXPECT_THROW((void)device("PWR", {}), Error);
}

TEST(AmlObjects, PackagesAndBuffers) {
  EXPECT_EQ(package({integer(1), integer(2)}), Bytes({0x12, 0x05, 0x02, 0x01, 0x0a, 0x02}));
  EXPECT_EQ(package({}), Bytes({0x12, 0x02, 0x00}));
  EXPECT_EQ(buffer({0xaa, 0xbb}), Bytes({0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb}));
  // Beyond 255 elements NumElements no longer fits a byte: VarPackage with an integer count.
  const Bytes big = package(std::vector<Bytes>(300, integer(0)));
  EXPECT_EQ(big.at(0), 0x13);
  const auto [length, used] = decode_pkg_length(Bytes(big.begin() + 1, big.end()));
  EXPECT_EQ(length, big.size() - 1);
  EXPECT_EQ(Bytes(big.begin() + 1 + static_cast<std::ptrdiff_t>(used),
                  big.begin() + 4 + static_cast<std::ptrdiff_t>(used)),
            Bytes({0x0b, 0x2c, 0x01}));
}

TEST(AmlStatements, ArgsLocalsAndControlFlow) {
  EXPECT_EQ(arg(0), Bytes({0x68}));
  EXPECT_EQ(arg(6), Bytes({0x6e}));
  EXPECT_EQ(local(0), Bytes({0x60}));
  EXPECT_EQ(local(7), Bytes({0x67}));
  EXPECT_THROW((void)arg(7), Error);
  EXPECT_THROW((void)local(8), Error);
  EXPECT_EQ(store(arg(0), local(1)), Bytes({0x70, 0x68, 0x61}));
  EXPECT_EQ(if_then(lequal(arg(0), integer(13)), {notify("\\_SB_.PWRB", integer(0x80))}),
            cat({{0xa0, 0x12, 0x93, 0x68, 0x0a, 0x0d, 0x86, 0x5c, 0x2e},
                 bytes_of("_SB_PWRB"),
                 {0x0a, 0x80}}));
}

TEST(AmlResources, SmallDescriptors) {
  EXPECT_EQ(io(0x3f8, 0x3f8, 1, 8), Bytes({0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}));
  EXPECT_THROW((void)io(0x3f8, 0x3f7, 1, 8), Error);
  EXPECT_EQ(irq_no_flags(4), Bytes({0x22, 0x10, 0x00}));
  EXPECT_EQ(irq_no_flags(15), Bytes({0x22, 0x00, 0x80}));
  EXPECT_THROW((void)irq_no_flags(16), Error);
}

TEST(AmlResources, LargeDescriptors) {
  EXPECT_EQ(extended_interrupt(5, Trigger::kEdge, Polarity::kActiveHigh, Sharing::kExclusive),
            Bytes({0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00}));
  EXPECT_EQ(extended_interrupt(16, Trigger::kLevel, Polarity::kActiveLow, Sharing::kShared),
            Bytes({0x89, 0x06, 0x00, 0x0d, 0x01, 0x10, 0x00, 0x00, 0x00}));
  EXPECT_EQ(memory32_fixed(0xd0000000, 0x1000, true),
            Bytes({0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00}));
  EXPECT_THROW((void)memory32_fixed(0xfffff000, 0x2000, true), Error);
  EXPECT_THROW((void)memory32_fixed(0xd0000000, 0, true), Error);
}

TEST(AmlResources, AddressSpaceDescriptors) {
  // Type, general flags (producer, MinFixed, MaxFixed), type flags, then granularity, min,
  // max, translation, length.
  EXPECT_EQ(word_bus_number(0, 0xff), Bytes({0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00,
                                             0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01}));
  EXPECT_EQ(word_io(0x0d00, 0xffff), Bytes({0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00,
                                            0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3}));
  EXPECT_THROW((void)word_io(0, 0xffff), Error);  // a length of 0x10000 does not fit
  EXPECT_THROW((void)word_io(2, 1), Error);
  const Bytes mem = dword_memory(0xe0000000, 0xfebfffff, Cacheability::kNonCacheable, true);
  EXPECT_EQ(mem,
            Bytes({0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                   0xe0, 0xff, 0xff, 0xbf, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x1e}));
  const Bytes qmem = qword_memory(0x8000000000, 0x80ffffffff, Cacheability::kPrefetchable, false);
  ASSERT_EQ(qmem.size(), 46U);
  EXPECT_EQ(Bytes(qmem.begin(), qmem.begin() + 6), Bytes({0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x06}));
  EXPECT_EQ(Bytes(qmem.end() - 8, qmem.end()), Bytes({0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(AmlResources, TemplateEndsWithEndTag) {
  EXPECT_EQ(resource_template({irq_no_flags(4)}),
            Bytes({0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00}));
  EXPECT_EQ(resource_template({}), Bytes({0x11, 0x05, 0x0a, 0x02, 0x79, 0x00}));
}

}  // namespace
}  // namespace vmm::x86_64::aml
