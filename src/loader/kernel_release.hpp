#pragma once
// The release a bzImage names in its setup header ("6.1.0-57-amd64"): the directory its
// modules live in under /lib/modules.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace vmm::loader {

// The first word of the header's kernel_version string (boot.rst: field 0x20e, an offset from
// 0x200), or nullopt when the image has no such string (no "HdrS" header, protocol before
// 2.00, a zero field, an offset or string outside the image, or an empty or unprintable
// word). Pure; every offset is checked against image.size().
[[nodiscard]] std::optional<std::string> bzimage_kernel_release(std::span<const uint8_t> image);

}  // namespace vmm::loader
