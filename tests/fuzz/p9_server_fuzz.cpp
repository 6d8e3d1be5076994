// Fuzzes the 9P2000.L codec and file server together: the input is a script of messages
// (arbitrary bytes, their size field usually made to agree so that parsing reaches the bodies)
// with arbitrary reply limits, played against a fresh server on a temporary share that holds
// files, a directory and symlinks pointing outside. Any crash, sanitizer report, a reply
// longer than its limit or with a wrong size field, or a change to the directory beside the
// share is a bug. p9_server_fuzz.seeds/ holds sessions that attach, open, read, write, list and
// change files; P9_FUZZ_TRACE=1 prints each request and its reply type (how deep an input gets).
#include <fuzzer/FuzzedDataProvider.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "vmm/virtio/p9_protocol.hpp"
#include "vmm/virtio/p9_server.hpp"

namespace {

namespace fs = std::filesystem;
using vmm::virtio::p9::kHeaderSize;
using vmm::virtio::p9::kIoHeaderSize;
using vmm::virtio::p9::kMaxMsize;

const fs::path& base() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "vmm-p9-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    fs::create_directories(fs::path(tmpl) / "outside");
    std::ofstream(fs::path(tmpl) / "outside" / "secret") << "secret";
    return fs::path(tmpl);
  }();
  return dir;
}

void make_share(const fs::path& share) {
  std::error_code ec;
  fs::remove_all(share, ec);
  fs::create_directories(share / "dir" / "sub");
  std::ofstream(share / "file") << "hello";
  std::ofstream(share / "dir" / "inner") << "inner";
  fs::create_directory_symlink(base() / "outside", share / "out", ec);
  fs::create_symlink("/etc/passwd", share / "passwd", ec);
  fs::create_directory_symlink("..", share / "dir" / "up", ec);
}

std::string outside_state() {
  std::ostringstream out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(base() / "outside", ec)) {
    out << e.path().filename().string() << ':' << e.file_size(ec) << ';';
  }
  return out.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string outside_before = outside_state();
  static const bool trace = std::getenv("P9_FUZZ_TRACE") != nullptr;
  FuzzedDataProvider in(data, size);
  const fs::path share = base() / "share";
  make_share(share);
  vmm::virtio::p9::Server server(share, in.ConsumeBool());

  std::vector<uint8_t> reply;
  for (int i = 0; i < 64 && in.remaining_bytes() > 0; ++i) {
    const auto limit = in.ConsumeIntegralInRange<uint32_t>(kIoHeaderSize, kMaxMsize);
    const bool fix_size = in.ConsumeIntegralInRange<int>(0, 9) != 0;
    std::string text = in.ConsumeRandomLengthString(8192);
    std::vector<uint8_t> message(text.begin(), text.end());
    (void)vmm::virtio::p9::parse_request(message, kMaxMsize);
    if (fix_size && message.size() >= 4) {
      const auto n = static_cast<uint32_t>(message.size());
      for (size_t b = 0; b < 4; ++b) message[b] = static_cast<uint8_t>(n >> (8 * b));
    }
    reply.clear();
    server.handle(message, limit, reply);
    if (trace) {
      std::fprintf(stderr, "%s -> %d\n",
                   vmm::virtio::p9::message_name(message.size() > 4 ? message[4] : 0),
                   reply.size() > 4 ? reply[4] : -1);
    }
    if (reply.empty()) continue;
    if (reply.size() < kHeaderSize || reply.size() > limit) std::abort();
    const uint32_t declared = static_cast<uint32_t>(reply[0]) | reply[1] << 8 | reply[2] << 16 |
                              static_cast<uint32_t>(reply[3]) << 24;
    if (declared != reply.size()) std::abort();
    if (server.fid_count() > vmm::virtio::p9::kMaxFids) std::abort();
  }
  if (outside_state() != outside_before) {
    std::fprintf(stderr, "the directory beside the share changed\n");
    std::abort();
  }
  return 0;
}
