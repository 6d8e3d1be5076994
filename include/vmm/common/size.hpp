#pragma once
// Sizes as users write them: "512M", "2G", "1536MiB", "4096K". A bare number means MiB, as in
// QEMU's -m. Returns nothing on a malformed or overflowing value.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vmm {

[[nodiscard]] std::optional<uint64_t> parse_size(std::string_view text) noexcept;
[[nodiscard]] std::string format_size(uint64_t bytes);

}  // namespace vmm
