#include "vmm/virtio/console_device.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vmm::virtio {

namespace {

// virtio_console_config (5.3.4): le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr.
constexpr uint64_t kConfigSize = 12;
constexpr uint64_t kEmergWrOffset = 8;

}  // namespace

void FdConsoleOutput::write(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes = bytes.subspan(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, -1);
    } else {
      // The reader went away (closed pipe): there is nobody left to lose output for.
      return;
    }
  }
}

VirtioConsole::VirtioConsole(ConsoleOutput& output, EventLoop& loop)
    : QueueDevice(loop, "virtio-console", 2), output_(output) {
  pending_input_.reserve(kInputBufferSize);
}

VirtioConsole::~VirtioConsole() { reset(); }

uint64_t VirtioConsole::features() const noexcept {
  return feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc) |
         feature_bit(kFeatureRingEventIdx) | feature_bit(kConsoleFeatureEmergWrite);
}

void VirtioConsole::read_config(uint64_t offset, std::span<uint8_t> data) {
  // cols/rows are only meaningful with VIRTIO_CONSOLE_F_SIZE (not offered): all zero.
  const std::array<uint8_t, kConfigSize> config{};
  read_config_bytes(config, offset, data);
}

void VirtioConsole::write_config(uint64_t offset, std::span<const uint8_t> data) {
  if (offset == kEmergWrOffset && !data.empty()) {
    output_.write(data.first(1));  // the low byte is the character
    output_.flush();
  }
}

void VirtioConsole::on_notify_locked(uint16_t queue) {
  if (queue == kTransmitQueue) {
    drain_output_locked();
  } else {
    deliver_input_locked();
  }
}

void VirtioConsole::stop_locked() {
  drain_output_locked();  // what the guest queued is written, not dropped
  output_.flush();
}

size_t VirtioConsole::push_input(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex());
  const size_t room = kInputBufferSize - pending_input_.size();
  const size_t n = std::min(room, bytes.size());
  pending_input_.insert(pending_input_.end(), bytes.begin(), bytes.begin() + static_cast<long>(n));
  if (active_locked() && n > 0) {
    loop().post([this] {
      std::lock_guard inner(mutex());
      if (active_locked()) deliver_input_locked();
    });
  }
  return n;
}

void VirtioConsole::deliver_input_locked() {
  Queue* rx = queue(kReceiveQueue);
  if (rx == nullptr) return;
  bool used = false;
  size_t done = 0;
  while (done < pending_input_.size()) {
    auto chain = rx->pop();
    if (!chain) {
      if (rx->broken()) {
        fail_locked(*rx, "receive queue index moved by more than its size");
        break;
      }
      if (!rx->enable_notification()) break;  // wait for the guest's next buffers
      continue;
    }
    uint32_t written = 0;
    while (auto d = chain->next()) {
      if (!d->device_writable) continue;  // receive buffers are writable; skip anything else
      const size_t n = std::min<size_t>(d->len, pending_input_.size() - done);
      if (n == 0) continue;
      if (!chain->memory().write(d->addr, std::span(pending_input_).subspan(done, n))) break;
      done += n;
      written += static_cast<uint32_t>(n);
    }
    if (chain->error() != ChainError::kNone) {
      fail_locked(*rx, to_string(chain->error()));
      break;
    }
    rx->add_used(chain->head_index(), written);
    used = true;
  }
  pending_input_.erase(pending_input_.begin(), pending_input_.begin() + static_cast<long>(done));
  if (used) notify_used_locked(kReceiveQueue);
}

void VirtioConsole::drain_output_locked() {
  Queue* tx = queue(kTransmitQueue);
  if (tx == nullptr) return;
  bool used = false;
  do {
    tx->disable_notification();
    while (auto chain = tx->pop()) {
      while (auto d = chain->next()) {
        if (d->device_writable) continue;
        auto bytes = chain->memory().span(d->addr, d->len);
        if (bytes) output_.write(*bytes);
      }
      if (chain->error() != ChainError::kNone) {
        fail_locked(*tx, to_string(chain->error()));
        return;
      }
      tx->add_used(chain->head_index(), 0);
      used = true;
    }
    if (tx->broken()) {
      fail_locked(*tx, "transmit queue index moved by more than its size");
      return;
    }
  } while (tx->enable_notification());
  if (used) {
    output_.flush();
    notify_used_locked(kTransmitQueue);
  }
}

}  // namespace vmm::virtio
