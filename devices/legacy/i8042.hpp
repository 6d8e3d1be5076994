#pragma once
// The i8042 keyboard controller, just enough of it for Linux to probe it quietly and, above all,
// to reboot through it: the "pulse reset line" command (0xfe on port 0x64, what reboot=k uses and
// what Linux's default reboot methods fall back to) ends the VM with StopReason::kGuestReset.
//
// The controller has no auxiliary (mouse) port: the aux interface test answers "clock line stuck
// low", the aux loopback command echoes without the aux-data flag so Linux gives up at once
// instead of waiting for a timeout. A new command's reply replaces unread output, so a guest
// that gave up on one reply never reads it as the answer to the next command. A keyboard is
// attached that acknowledges every command and never types (Linux's atkbd probe finds an "AT
// Translated Set 2 keyboard").
//
// The controller answers on two ports that are not adjacent, 0x60 (data) and 0x64 (status and
// command). Register data_port() and command_port(), each one byte long:
//   auto kbc = std::make_shared<I8042>(stopper, kbd_irq);
//   pio.insert(kbc->data_port(), 0x60, 1);
//   pio.insert(kbc->command_port(), 0x64, 1);
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>

#include "vmm/bus/bus_device.hpp"
#include "vmm/devices/irq_line.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm::devices {

class I8042 final : public std::enable_shared_from_this<I8042> {
 public:
  static constexpr uint16_t kDataPort = 0x60;
  static constexpr uint16_t kCommandPort = 0x64;

  // Status register bits.
  static constexpr uint8_t kStatusOutputFull = 0x01;
  static constexpr uint8_t kStatusInputFull = 0x02;
  static constexpr uint8_t kStatusSystemFlag = 0x04;
  static constexpr uint8_t kStatusLastWasCommand = 0x08;
  static constexpr uint8_t kStatusUnlocked = 0x10;
  static constexpr uint8_t kStatusAuxData = 0x20;
  // Command byte bits.
  static constexpr uint8_t kCtrKbdInterrupt = 0x01;
  static constexpr uint8_t kCtrAuxInterrupt = 0x02;
  static constexpr uint8_t kCtrSystemFlag = 0x04;
  static constexpr uint8_t kCtrKbdDisabled = 0x10;
  static constexpr uint8_t kCtrAuxDisabled = 0x20;
  static constexpr uint8_t kCtrTranslate = 0x40;
  // Controller commands (written to port 0x64).
  static constexpr uint8_t kCmdReadCtr = 0x20;
  static constexpr uint8_t kCmdWriteCtr = 0x60;
  static constexpr uint8_t kCmdAuxDisable = 0xa7;
  static constexpr uint8_t kCmdAuxEnable = 0xa8;
  static constexpr uint8_t kCmdAuxTest = 0xa9;
  static constexpr uint8_t kCmdSelfTest = 0xaa;
  static constexpr uint8_t kCmdKbdTest = 0xab;
  static constexpr uint8_t kCmdKbdDisable = 0xad;
  static constexpr uint8_t kCmdKbdEnable = 0xae;
  static constexpr uint8_t kCmdReadOutputPort = 0xd0;
  static constexpr uint8_t kCmdWriteOutputPort = 0xd1;
  static constexpr uint8_t kCmdWriteKbdBuffer = 0xd2;
  static constexpr uint8_t kCmdWriteAuxBuffer = 0xd3;
  static constexpr uint8_t kCmdWriteAux = 0xd4;
  static constexpr uint8_t kCmdPulseReset = 0xfe;

  // The largest number of bytes waiting for the guest; more replies than that are dropped.
  static constexpr size_t kOutputQueueCapacity = 16;

  // `stopper` must outlive the controller. `kbd_irq` (IRQ 1, edge) may be null: replies are
  // then only seen by polling the status register, which is all Linux needs to probe.
  explicit I8042(VmStopper& stopper, std::shared_ptr<IrqLine> kbd_irq = nullptr);

  // Bus adapters for ports 0x60 and 0x64; they keep the controller alive. The controller must
  // be owned by a std::shared_ptr.
  [[nodiscard]] std::shared_ptr<BusDevice> data_port();
  [[nodiscard]] std::shared_ptr<BusDevice> command_port();

  uint8_t read_data();
  uint8_t read_status();
  void write_data(uint8_t value);
  void write_command(uint8_t value);

 private:
  // One of the two ports, forwarding to the controller.
  class Port final : public BusDevice {
   public:
    Port(I8042& controller, bool is_command) : controller_(controller), is_command_(is_command) {}
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    I8042& controller_;
    bool is_command_;
  };

  // What the next byte written to port 0x60 means.
  enum class DataTarget { kKeyboard, kCommandByte, kOutputPort, kKbdBuffer, kAuxBuffer, kAux };

  void keyboard_command(uint8_t value);  // caller holds mutex_
  void push_output(uint8_t value);       // caller holds mutex_
  void controller_reply(uint8_t value);  // caller holds mutex_; replaces stale output
  void reset_system(const char* why);    // caller holds mutex_

  VmStopper& stopper_;
  const std::shared_ptr<IrqLine> kbd_irq_;
  Port data_adapter_{*this, false};
  Port command_adapter_{*this, true};

  std::mutex mutex_;
  uint8_t command_byte_ = kCtrKbdInterrupt | kCtrSystemFlag | kCtrTranslate;
  uint8_t output_port_ = 0x03;  // bit 0: reset line inactive, bit 1: A20 enabled
  bool last_write_was_command_ = false;
  DataTarget data_target_ = DataTarget::kKeyboard;
  std::deque<uint8_t> output_;
  uint8_t last_output_ = 0;  // a read of an empty buffer returns the previous byte again
};

}  // namespace vmm::devices
