#include "vmm/common/uuid.hpp"

#include <algorithm>
#include <exception>
#include <optional>
#include <random>

#include "vmm/common/error.hpp"

namespace vmm {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
// Offsets of the hyphens in the canonical text.
constexpr std::array<std::size_t, 4> kHyphens = {8, 13, 18, 23};
// Byte 6 high nibble: version; byte 8 top two bits: variant (RFC 4122: 10b).
constexpr std::size_t kVersionByte = 6;
constexpr std::size_t kVariantByte = 8;
constexpr uint8_t kVersion4 = 0x40;
constexpr uint8_t kVariantRfc4122 = 0x80;

std::optional<uint8_t> hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
  return std::nullopt;
}

bool is_hyphen_position(std::size_t i) noexcept {
  return std::find(kHyphens.begin(), kHyphens.end(), i) != kHyphens.end();
}

}  // namespace

bool Uuid::is_nil() const noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

Uuid random_uuid() {
  Uuid uuid;
  try {
    // The kernel's CSPRNG rather than whatever the library would pick by default.
    std::random_device source("/dev/urandom");
    for (std::size_t i = 0; i < uuid.bytes.size(); i += 4) {
      const uint32_t word = source();
      for (std::size_t j = 0; j < 4; ++j) uuid.bytes[i + j] = static_cast<uint8_t>(word >> (8 * j));
    }
  } catch (const std::exception& e) {
    throw HostResourceError(std::string("cannot read random bytes for a UUID: ") + e.what());
  }
  uuid.bytes[kVersionByte] = static_cast<uint8_t>((uuid.bytes[kVersionByte] & 0x0f) | kVersion4);
  uuid.bytes[kVariantByte] =
      static_cast<uint8_t>((uuid.bytes[kVariantByte] & 0x3f) | kVariantRfc4122);
  return uuid;
}

std::string to_string(const Uuid& uuid) {
  std::string text;
  text.reserve(kUuidTextSize);
  for (std::size_t i = 0; i < uuid.bytes.size(); ++i) {
    if (is_hyphen_position(text.size())) text.push_back('-');
    text.push_back(kHexDigits[uuid.bytes[i] >> 4]);
    text.push_back(kHexDigits[uuid.bytes[i] & 0xf]);
  }
  return text;
}

Uuid parse_uuid(std::string_view text) {
  const auto bad = [text](const std::string& why) {
    return ConfigError("uuid", "'" + std::string(text) + "' is not a UUID (" + why + ")");
  };
  if (text.size() != kUuidTextSize) {
    throw bad("expected 36 characters, 8-4-4-4-12 hex digits");
  }
  Uuid uuid;
  std::size_t nibble = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (is_hyphen_position(i)) {
      if (text[i] != '-') throw bad("expected '-' at position " + std::to_string(i + 1));
      continue;
    }
    const auto value = hex_value(text[i]);
    if (!value) throw bad("'" + std::string(1, text[i]) + "' is not a hex digit");
    auto& byte = uuid.bytes[nibble / 2];
    byte = static_cast<uint8_t>(nibble % 2 == 0 ? *value << 4 : byte | *value);
    ++nibble;
  }
  return uuid;
}

}  // namespace vmm
