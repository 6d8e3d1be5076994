#include "devices/legacy/i8042.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace vmm::devices {
namespace {

// Keyboard commands and replies (PS/2 keyboard protocol).
constexpr uint8_t kKbdAck = 0xfa;
constexpr uint8_t kKbdSelfTestPassed = 0xaa;
constexpr uint8_t kKbdCmdEcho = 0xee;
constexpr uint8_t kKbdCmdGetId = 0xf2;
constexpr uint8_t kKbdCmdReset = 0xff;
// MF2 keyboard identity; the controller translates its second byte when translation is on.
constexpr uint8_t kKbdId0 = 0xab;
constexpr uint8_t kKbdId1 = 0x83;
constexpr uint8_t kKbdId1Translated = 0x41;

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceTestPassed = 0x00;
constexpr uint8_t kInterfaceClockStuckLow = 0x01;
constexpr uint8_t kOutputPortResetInactive = 0x01;

}  // namespace

I8042::I8042(VmStopper& stopper, std::shared_ptr<IrqLine> kbd_irq)
    : stopper_(stopper), kbd_irq_(std::move(kbd_irq)) {}

std::shared_ptr<BusDevice> I8042::data_port() {
  // Aliasing constructor: the adapter shares ownership of the whole controller.
  return {shared_from_this(), &data_adapter_};
}

std::shared_ptr<BusDevice> I8042::command_port() { return {shared_from_this(), &command_adapter_}; }

void I8042::Port::read(uint64_t offset, std::span<uint8_t> data) {
  if (data.size() != 1 || offset != 0) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    return;
  }
  data[0] = is_command_ ? controller_.read_status() : controller_.read_data();
}

void I8042::Port::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 1 || offset != 0) return;
  if (is_command_) {
    controller_.write_command(data[0]);
  } else {
    controller_.write_data(data[0]);
  }
}

uint8_t I8042::read_status() {
  std::lock_guard lock(mutex_);
  // The input buffer is consumed at once, so "input full" never shows and kb_wait() never spins.
  uint8_t status = kStatusUnlocked;
  if (!output_.empty()) status |= kStatusOutputFull;
  if ((command_byte_ & kCtrSystemFlag) != 0) status |= kStatusSystemFlag;
  if (last_write_was_command_) status |= kStatusLastWasCommand;
  return status;
}

uint8_t I8042::read_data() {
  std::lock_guard lock(mutex_);
  if (output_.empty()) return last_output_;
  last_output_ = output_.front();
  output_.pop_front();
  // Edge-triggered: each byte that reaches the head of the buffer gets its own interrupt.
  if (!output_.empty() && kbd_irq_ && (command_byte_ & kCtrKbdInterrupt) != 0) {
    kbd_irq_->trigger();
  }
  return last_output_;
}

void I8042::write_command(uint8_t value) {
  std::lock_guard lock(mutex_);
  last_write_was_command_ = true;
  data_target_ = DataTarget::kKeyboard;
  switch (value) {
    case kCmdReadCtr:
      controller_reply(command_byte_);
      break;
    case kCmdWriteCtr:
      data_target_ = DataTarget::kCommandByte;
      break;
    case kCmdAuxDisable:
      command_byte_ |= kCtrAuxDisabled;
      break;
    case kCmdAuxEnable:
      command_byte_ = static_cast<uint8_t>(command_byte_ & ~kCtrAuxDisabled);
      break;
    case kCmdAuxTest:
      // There is no aux port: report its clock line stuck low.
      controller_reply(kInterfaceClockStuckLow);
      break;
    case kCmdSelfTest:
      controller_reply(kSelfTestPassed);
      break;
    case kCmdKbdTest:
      controller_reply(kInterfaceTestPassed);
      break;
    case kCmdKbdDisable:
      command_byte_ |= kCtrKbdDisabled;
      break;
    case kCmdKbdEnable:
      command_byte_ = static_cast<uint8_t>(command_byte_ & ~kCtrKbdDisabled);
      break;
    case kCmdReadOutputPort:
      controller_reply(output_port_);
      break;
    case kCmdWriteOutputPort:
      data_target_ = DataTarget::kOutputPort;
      break;
    case kCmdWriteKbdBuffer:
      data_target_ = DataTarget::kKbdBuffer;
      break;
    case kCmdWriteAuxBuffer:
      data_target_ = DataTarget::kAuxBuffer;
      break;
    case kCmdWriteAux:
      data_target_ = DataTarget::kAux;
      break;
    default:
      // 0xf0..0xff pulse output-port lines low for a moment; bit 0 clear pulses the reset line.
      if ((value & 0xf0) == 0xf0 && (value & 0x01) == 0) {
        reset_system("pulse reset line");
      } else {
        SPDLOG_DEBUG("i8042: ignored command {:#04x}", value);
      }
      break;
  }
}

void I8042::write_data(uint8_t value) {
  std::lock_guard lock(mutex_);
  last_write_was_command_ = false;
  const DataTarget target = std::exchange(data_target_, DataTarget::kKeyboard);
  switch (target) {
    case DataTarget::kKeyboard:
      keyboard_command(value);
      break;
    case DataTarget::kCommandByte:
      command_byte_ = value;
      break;
    case DataTarget::kOutputPort:
      output_port_ = value;
      if ((value & kOutputPortResetInactive) == 0) reset_system("output port reset line");
      break;
    case DataTarget::kKbdBuffer:
    case DataTarget::kAuxBuffer:
      // For the aux buffer too: there is no aux port, so the byte comes back as keyboard data
      // (without the aux-data status bit), which Linux takes as "no aux loopback" immediately.
      controller_reply(value);
      break;
    case DataTarget::kAux:
      break;  // nothing is attached to the aux port
  }
}

void I8042::keyboard_command(uint8_t value) {
  // The keyboard answers the latest command only; unread answers to older ones are gone.
  output_.clear();
  switch (value) {
    case kKbdCmdEcho:
      push_output(kKbdCmdEcho);
      break;
    case kKbdCmdReset:
      push_output(kKbdAck);
      push_output(kKbdSelfTestPassed);
      break;
    case kKbdCmdGetId:
      push_output(kKbdAck);
      push_output(kKbdId0);
      push_output((command_byte_ & kCtrTranslate) != 0 ? kKbdId1Translated : kKbdId1);
      break;
    default:
      // LEDs, typematic rate, scan set, enable/disable and their parameters: acknowledged.
      push_output(kKbdAck);
      break;
  }
}

void I8042::controller_reply(uint8_t value) {
  output_.clear();
  push_output(value);
}

void I8042::push_output(uint8_t value) {
  if (output_.size() >= kOutputQueueCapacity) return;
  output_.push_back(value);
  if (output_.size() == 1 && kbd_irq_ && (command_byte_ & kCtrKbdInterrupt) != 0) {
    kbd_irq_->trigger();
  }
}

void I8042::reset_system(const char* why) {
  spdlog::info("i8042: guest requested a reset ({})", why);
  stopper_.request_stop({.reason = StopReason::kGuestReset});
}

}  // namespace vmm::devices
