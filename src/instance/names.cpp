#include "instance/names.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>

#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

void validate_instance_name(const std::string& name) {
  const auto bad = [&](const std::string& why) {
    throw ConfigError("invalid instance name \"" + name + "\": " + why);
  };
  if (name.empty()) bad("it is empty");
  if (name.size() > 63) bad("it is longer than 63 characters");
  if (!is_alpha(name.front())) bad("it must start with a letter");
  if (name.back() == '-') bad("it must not end with '-'");
  if (!std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '-'; })) {
    bad("only letters, digits and '-' are allowed");
  }
}

void validate_snapshot_name(const std::string& name) {
  const auto bad = [&](const std::string& why) {
    throw ConfigError("invalid snapshot name \"" + name + "\": " + why);
  };
  if (name.empty()) bad("it is empty");
  if (name.size() > 63) bad("it is longer than 63 characters");
  if (name == "." || name == "..") bad("it is a path component");
  if (!std::all_of(name.begin(), name.end(),
                   [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; })) {
    bad("only letters, digits, '-', '_' and '.' are allowed");
  }
}

void validate_image_alias(const std::string& alias) {
  const auto bad = [&](const std::string& why) {
    throw ConfigError("invalid image alias \"" + alias + "\": " + why);
  };
  if (alias.empty()) bad("it is empty");
  if (alias.size() > 255) bad("it is longer than 255 characters");
  if (alias.front() == '/' || alias.back() == '/') bad("it must not start or end with '/'");
  if (alias.find("..") != std::string::npos) bad("it must not contain \"..\"");
  if (!std::all_of(alias.begin(), alias.end(),
                   [](char c) { return std::isgraph(static_cast<unsigned char>(c)) != 0; })) {
    bad("it must not contain spaces or control characters");
  }
  if (std::all_of(alias.begin(), alias.end(), is_hex)) {
    bad("it would read as a fingerprint (all hexadecimal)");
  }
}

std::string short_hash(std::string_view text) {
  uint32_t hash = 2166136261U;
  for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619U;
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", hash);
  return hex;
}

}  // namespace vmm::instance
