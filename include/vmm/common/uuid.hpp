#pragma once
// RFC 4122 UUIDs: a VM's identity as firmware reports it to the guest (SMBIOS system UUID).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace vmm {

struct Uuid {
  // In the order the canonical text reads (RFC 4122 network order); firmware tables that want
  // another order convert on the way out.
  std::array<uint8_t, 16> bytes{};

  [[nodiscard]] bool is_nil() const noexcept;
  friend bool operator==(const Uuid&, const Uuid&) = default;
};

// The canonical text length: 8-4-4-4-12 hex digits.
inline constexpr std::size_t kUuidTextSize = 36;

// A random (version 4, RFC 4122 variant) UUID. Throws vmm::HostResourceError when the host's
// random source cannot be read.
[[nodiscard]] Uuid random_uuid();

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase.
[[nodiscard]] std::string to_string(const Uuid& uuid);

// Parses the canonical 8-4-4-4-12 form, hex digits of either case. Throws
// vmm::ConfigError("uuid", ...) on anything else.
[[nodiscard]] Uuid parse_uuid(std::string_view text);

}  // namespace vmm
