#include "devices/legacy/serial.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "vmm/common/error.hpp"

namespace vmm::devices {

Serial::Serial(std::shared_ptr<IrqLine> irq, std::shared_ptr<SerialOutput> output)
    : irq_(std::move(irq)), output_(std::move(output)) {
  if (!irq_) throw Error("serial: no interrupt line");
}

void Serial::read(uint64_t offset, std::span<uint8_t> data) {
  // The 8250 driver only uses byte accesses; anything wider reads as an absent device.
  if (data.size() != 1 || offset >= kPortCount) {
    SPDLOG_DEBUG("serial: ignored {}-byte read at offset {}", data.size(), offset);
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    return;
  }
  std::lock_guard lock(state_mutex_);
  data[0] = read_register(offset);
  update_irq();
}

void Serial::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 1 || offset >= kPortCount) {
    SPDLOG_DEBUG("serial: ignored {}-byte write at offset {}", data.size(), offset);
    return;
  }
  bool has_output = false;
  {
    std::lock_guard lock(state_mutex_);
    write_register(offset, data[0]);
    update_irq();
    has_output = !tx_pending_.empty();
  }
  if (has_output) drain_output();
}

size_t Serial::enqueue_input(std::span<const uint8_t> bytes) {
  std::lock_guard lock(state_mutex_);
  const size_t accepted = std::min(bytes.size(), kInputQueueCapacity - host_input_.size());
  host_input_.insert(host_input_.end(), bytes.begin(),
                     bytes.begin() + static_cast<std::ptrdiff_t>(accepted));
  refill_rx_fifo();
  update_irq();
  return accepted;
}

size_t Serial::pending_input() const {
  std::lock_guard lock(state_mutex_);
  return host_input_.size() + rx_fifo_.size();
}

void Serial::flush() {
  drain_output();
  if (!output_) return;
  std::lock_guard out_lock(output_mutex_);
  output_->flush();
}

uint8_t Serial::read_register(uint64_t offset) {
  const bool dlab = (lcr_ & kLcrDlab) != 0;
  switch (offset) {
    case kRbrThrDll: {
      if (dlab) return dll_;
      if (rx_fifo_.empty()) return 0;
      const uint8_t byte = rx_fifo_.front();
      rx_fifo_.pop_front();
      refill_rx_fifo();
      return byte;
    }
    case kIerDlm:
      return dlab ? dlm_ : ier_;
    case kIirFcr: {
      const uint8_t iir = pending_interrupt();
      // Reading IIR acknowledges a THR-empty interrupt when it is the one reported.
      if (iir == kIirThrEmpty) thr_empty_pending_ = false;
      return static_cast<uint8_t>(iir | (fifo_enabled_ ? kIirFifoEnabled : 0));
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      uint8_t lsr = static_cast<uint8_t>(lsr_ | kLsrThrEmpty | kLsrTxEmpty);
      if (!rx_fifo_.empty()) lsr |= kLsrDataReady;
      lsr_ = static_cast<uint8_t>(lsr_ & ~kLsrOverrun);  // error bits clear on read
      return lsr;
    }
    case kMsr: {
      const uint8_t msr = msr_;
      msr_ &= 0xf0;  // delta bits clear on read
      return msr;
    }
    case kScr:
      return scr_;
    default:
      return 0xff;
  }
}

void Serial::write_register(uint64_t offset, uint8_t value) {
  const bool dlab = (lcr_ & kLcrDlab) != 0;
  switch (offset) {
    case kRbrThrDll:
      if (dlab) {
        dll_ = value;
      } else {
        transmit(value);
      }
      break;
    case kIerDlm:
      if (dlab) {
        dlm_ = value;
      } else {
        const uint8_t old = ier_;
        ier_ = value & 0x0f;
        // THR is always empty, so enabling ETBEI raises THRE at once (Linux's 8250 driver
        // checks for exactly this when it probes for buggy UARTs).
        if ((ier_ & kIerThrEmpty) == 0) {
          thr_empty_pending_ = false;
        } else if ((old & kIerThrEmpty) == 0) {
          thr_empty_pending_ = true;
        }
      }
      break;
    case kIirFcr:
      write_fcr(value);
      break;
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      write_mcr(value & 0x1f);
      break;
    case kScr:
      scr_ = value;
      break;
    default:
      break;  // LSR and MSR are read-only
  }
}

void Serial::transmit(uint8_t byte) {
  if ((mcr_ & kMcrLoopback) != 0) {
    receive(byte);
  } else if (output_) {
    tx_pending_.push_back(byte);
  }
  // The byte left at once: THR is empty again.
  thr_empty_pending_ = true;
}

void Serial::receive(uint8_t byte) {
  if (rx_fifo_.size() >= rx_fifo_capacity()) {
    lsr_ |= kLsrOverrun;  // the FIFO keeps its contents; the new byte is lost
    return;
  }
  rx_fifo_.push_back(byte);
}

void Serial::refill_rx_fifo() {
  // In loopback mode the receiver is disconnected from the outside world.
  if ((mcr_ & kMcrLoopback) != 0) return;
  while (!host_input_.empty() && rx_fifo_.size() < rx_fifo_capacity()) {
    rx_fifo_.push_back(host_input_.front());
    host_input_.pop_front();
  }
}

void Serial::write_mcr(uint8_t value) {
  const uint8_t old_lines = modem_lines();
  mcr_ = value;
  const uint8_t new_lines = modem_lines();
  const uint8_t changed = old_lines ^ new_lines;
  uint8_t deltas = 0;
  if ((changed & kMsrCts) != 0) deltas |= kMsrDeltaCts;
  if ((changed & kMsrDsr) != 0) deltas |= kMsrDeltaDsr;
  if ((changed & kMsrDcd) != 0) deltas |= kMsrDeltaDcd;
  // Ring indicator reports only its trailing (falling) edge.
  if ((old_lines & kMsrRi) != 0 && (new_lines & kMsrRi) == 0) deltas |= kMsrTrailingRi;
  msr_ = static_cast<uint8_t>(new_lines | (msr_ & 0x0f) | deltas);
  refill_rx_fifo();  // leaving loopback reconnects host input
}

void Serial::write_fcr(uint8_t value) {
  const bool enable = (value & kFcrEnable) != 0;
  // Switching the FIFOs on or off empties them, as on the real part.
  if (enable != fifo_enabled_) rx_fifo_.clear();
  fifo_enabled_ = enable;
  if ((value & kFcrClearRx) != 0) rx_fifo_.clear();
  // Transmission is instantaneous, so there is never a TX FIFO to clear. The receive trigger
  // level (bits 7:6) is not modelled: "data available" is reported from the first byte, which is
  // what the 16550's character timeout does for a slow typist anyway.
  refill_rx_fifo();
}

size_t Serial::rx_fifo_capacity() const noexcept { return fifo_enabled_ ? kRxFifoSize : 1; }

uint8_t Serial::modem_lines() const noexcept {
  if ((mcr_ & kMcrLoopback) == 0) return kMsrDcd | kMsrDsr | kMsrCts;
  uint8_t lines = 0;
  if ((mcr_ & kMcrRts) != 0) lines |= kMsrCts;
  if ((mcr_ & kMcrDtr) != 0) lines |= kMsrDsr;
  if ((mcr_ & kMcrOut1) != 0) lines |= kMsrRi;
  if ((mcr_ & kMcrOut2) != 0) lines |= kMsrDcd;
  return lines;
}

uint8_t Serial::pending_interrupt() const noexcept {
  if ((ier_ & kIerLineStatus) != 0 && (lsr_ & kLsrOverrun) != 0) return kIirLineStatus;
  if ((ier_ & kIerRxData) != 0 && !rx_fifo_.empty()) return kIirRxData;
  if ((ier_ & kIerThrEmpty) != 0 && thr_empty_pending_) return kIirThrEmpty;
  if ((ier_ & kIerModemStatus) != 0 && (msr_ & 0x0f) != 0) return kIirModemStatus;
  return kIirNoInterrupt;
}

void Serial::update_irq() {
  // Called with state_mutex_ held so that line transitions follow register state in order.
  const bool asserted = pending_interrupt() != kIirNoInterrupt;
  if (asserted == irq_asserted_) return;
  irq_asserted_ = asserted;
  irq_->set_level(asserted);
}

void Serial::drain_output() {
  if (!output_) return;
  // Whoever holds output_mutex_ takes everything queued so far, so bytes from several vCPUs
  // reach the sink in the order they were transmitted, and the sink may block freely.
  std::lock_guard out_lock(output_mutex_);
  std::vector<uint8_t> bytes;
  {
    std::lock_guard lock(state_mutex_);
    bytes.swap(tx_pending_);
  }
  if (!bytes.empty()) output_->write(bytes);
}

}  // namespace vmm::devices
