#pragma once
// A 16550A UART as Linux's 8250 driver sees it (COM1: 8 ports at 0x3f8, IRQ 4, level-triggered).
//
// Transmission is instantaneous: THR and the shift register are always empty, so LSR always shows
// THRE and TEMT and a "THR empty" interrupt follows every byte the guest writes.
//
// Host input takes two stages: a bounded host-side queue (kInputQueueCapacity bytes) feeds the
// guest-visible receive FIFO (16 bytes, 1 byte while the FIFOs are disabled) as the guest reads.
// The host queue applies back-pressure rather than dropping: enqueue_input() accepts only what
// fits and returns that count, and the producer retries later with the rest. Overrun (LSR.OE) can
// therefore only come from loopback mode, where bytes arrive faster than the guest reads them.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "vmm/bus/bus_device.hpp"
#include "vmm/devices/irq_line.hpp"

namespace vmm::devices {

// Where the UART's transmitted bytes go (the lead connects it to stdout). write() may block; the
// UART never calls it while holding its register lock.
class SerialOutput {
 public:
  SerialOutput() = default;
  SerialOutput(const SerialOutput&) = delete;
  SerialOutput& operator=(const SerialOutput&) = delete;
  virtual ~SerialOutput() = default;

  virtual void write(std::span<const uint8_t> bytes) = 0;
  // Pushes out anything the sink buffers; called at VM exit so no guest output is lost.
  virtual void flush() {}
};

class Serial final : public BusDevice {
 public:
  static constexpr uint64_t kPortCount = 8;
  static constexpr size_t kRxFifoSize = 16;
  static constexpr size_t kInputQueueCapacity = size_t{64} * 1024;

  // Register offsets (DLAB switches offsets 0 and 1 to the divisor latch).
  static constexpr uint64_t kRbrThrDll = 0;
  static constexpr uint64_t kIerDlm = 1;
  static constexpr uint64_t kIirFcr = 2;
  static constexpr uint64_t kLcr = 3;
  static constexpr uint64_t kMcr = 4;
  static constexpr uint64_t kLsr = 5;
  static constexpr uint64_t kMsr = 6;
  static constexpr uint64_t kScr = 7;

  // IER bits.
  static constexpr uint8_t kIerRxData = 0x01;       // ERBFI
  static constexpr uint8_t kIerThrEmpty = 0x02;     // ETBEI
  static constexpr uint8_t kIerLineStatus = 0x04;   // ELSI
  static constexpr uint8_t kIerModemStatus = 0x08;  // EDSSI
  // IIR values (bits 3:0) and the "FIFOs enabled" bits 7:6.
  static constexpr uint8_t kIirNoInterrupt = 0x01;
  static constexpr uint8_t kIirLineStatus = 0x06;
  static constexpr uint8_t kIirRxData = 0x04;
  static constexpr uint8_t kIirThrEmpty = 0x02;
  static constexpr uint8_t kIirModemStatus = 0x00;
  static constexpr uint8_t kIirFifoEnabled = 0xc0;
  // FCR bits.
  static constexpr uint8_t kFcrEnable = 0x01;
  static constexpr uint8_t kFcrClearRx = 0x02;
  static constexpr uint8_t kFcrClearTx = 0x04;
  // LCR, MCR bits.
  static constexpr uint8_t kLcrDlab = 0x80;
  static constexpr uint8_t kMcrDtr = 0x01;
  static constexpr uint8_t kMcrRts = 0x02;
  static constexpr uint8_t kMcrOut1 = 0x04;
  static constexpr uint8_t kMcrOut2 = 0x08;
  static constexpr uint8_t kMcrLoopback = 0x10;
  // LSR bits.
  static constexpr uint8_t kLsrDataReady = 0x01;
  static constexpr uint8_t kLsrOverrun = 0x02;
  static constexpr uint8_t kLsrThrEmpty = 0x20;
  static constexpr uint8_t kLsrTxEmpty = 0x40;
  // MSR bits: deltas in 3:0, line states in 7:4.
  static constexpr uint8_t kMsrDeltaCts = 0x01;
  static constexpr uint8_t kMsrDeltaDsr = 0x02;
  static constexpr uint8_t kMsrTrailingRi = 0x04;
  static constexpr uint8_t kMsrDeltaDcd = 0x08;
  static constexpr uint8_t kMsrCts = 0x10;
  static constexpr uint8_t kMsrDsr = 0x20;
  static constexpr uint8_t kMsrRi = 0x40;
  static constexpr uint8_t kMsrDcd = 0x80;

  // `irq` is the UART's interrupt line (required); `output` receives transmitted bytes (may be
  // null: output is then discarded).
  Serial(std::shared_ptr<IrqLine> irq, std::shared_ptr<SerialOutput> output);

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Host input for the guest. Returns how many leading bytes were accepted (0 when the host
  // queue is full); the caller keeps the rest and retries after a short wait.
  size_t enqueue_input(std::span<const uint8_t> bytes);
  // Bytes waiting in the host queue and receive FIFO together.
  [[nodiscard]] size_t pending_input() const;

  // Hands every transmitted byte to the sink and flushes the sink. Call before the VMM exits.
  void flush();

 private:
  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);
  void transmit(uint8_t byte);
  void receive(uint8_t byte);  // one byte into the receive FIFO, overrun if full
  void refill_rx_fifo();       // host queue -> receive FIFO
  void write_mcr(uint8_t value);
  void write_fcr(uint8_t value);
  [[nodiscard]] size_t rx_fifo_capacity() const noexcept;
  [[nodiscard]] uint8_t modem_lines() const noexcept;        // MSR bits 7:4 for the current MCR
  [[nodiscard]] uint8_t pending_interrupt() const noexcept;  // IIR bits 3:0
  void update_irq();
  void drain_output();  // hands queued output to the sink; caller must NOT hold state_mutex_

  const std::shared_ptr<IrqLine> irq_;
  const std::shared_ptr<SerialOutput> output_;

  mutable std::mutex state_mutex_;  // guards everything below except output_mutex_
  uint8_t ier_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t lsr_ = kLsrThrEmpty | kLsrTxEmpty;
  uint8_t msr_ = kMsrDcd | kMsrDsr | kMsrCts;
  uint8_t scr_ = 0;
  uint8_t dll_ = 0x0c;  // 9600 baud, what firmware usually leaves behind
  uint8_t dlm_ = 0;
  bool fifo_enabled_ = false;
  bool thr_empty_pending_ = false;  // THRE interrupt waiting to be acknowledged
  bool irq_asserted_ = false;
  std::deque<uint8_t> rx_fifo_;
  std::deque<uint8_t> host_input_;
  std::vector<uint8_t> tx_pending_;  // transmitted, not yet handed to the sink

  // Serialises sink calls so bytes reach the sink in transmission order.
  std::mutex output_mutex_;
};

}  // namespace vmm::devices
