#pragma once
// A job's log file (LOGS/NAME.log): the console of each attempt, one after the other, each
// after a line of the farm's naming the attempt. The verdict reads only the current attempt.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "vmm/common/unique_fd.hpp"

namespace vmm::farm {

// Of an attempt, at most this much is read back (the start; a panic or KTAP lies there).
inline constexpr std::size_t kMaxConsoleRead = std::size_t{32} << 20;
// The end of the console that the reports quote.
inline constexpr std::size_t kLogTailBytes = 4096;

class JobLog {
 public:
  // Creates or truncates the file. Throws vmm::Error.
  explicit JobLog(std::filesystem::path path);

  // Writes the attempt's header line; returns where the attempt's console starts.
  uint64_t begin_attempt(unsigned attempt, unsigned of);
  // The console written since `offset` (at most kMaxConsoleRead bytes).
  [[nodiscard]] std::string read_since(uint64_t offset) const;
  // Its last kLogTailBytes, however long it is.
  [[nodiscard]] std::string read_tail(uint64_t offset) const;
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
};

// The last `bytes` of `text`, from the start of a line where one is near.
[[nodiscard]] std::string log_tail(std::string_view text, std::size_t bytes = kLogTailBytes);

}  // namespace vmm::farm
