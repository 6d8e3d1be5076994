#include "devices/legacy/i8042.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "support/recording_stopper.hpp"
#include "vmm/bus/bus.hpp"

namespace vmm::devices {
namespace {

using test::RecordingStopper;

class CountingIrq final : public IrqLine {
 public:
  void set_level(bool asserted) override {
    if (asserted) ++edges;
  }
  int edges = 0;
};

class I8042Test : public ::testing::Test {
 protected:
  I8042Test() {
    bus.insert(kbc->data_port(), I8042::kDataPort, 1);
    bus.insert(kbc->command_port(), I8042::kCommandPort, 1);
  }
  uint8_t in(uint16_t port) {
    uint8_t b = 0;
    EXPECT_TRUE(bus.read(port, std::span(&b, 1)));
    return b;
  }
  void out(uint16_t port, uint8_t value) { EXPECT_TRUE(bus.write(port, std::span(&value, 1))); }
  // What Linux's i8042_command does: command, wait for output, read it.
  uint8_t command_with_reply(uint8_t command) {
    out(I8042::kCommandPort, command);
    EXPECT_NE(in(I8042::kCommandPort)&I8042::kStatusOutputFull, 0)
        << "no reply to command " << int{command};
    return in(I8042::kDataPort);
  }

  RecordingStopper stopper;
  std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
  std::shared_ptr<I8042> kbc = std::make_shared<I8042>(stopper, irq);
  Bus bus{"pio"};
};

TEST_F(I8042Test, StatusIdleAfterReset) {
  const uint8_t status = in(I8042::kCommandPort);
  EXPECT_EQ(status & (I8042::kStatusOutputFull | I8042::kStatusInputFull), 0);
  EXPECT_NE(status & I8042::kStatusSystemFlag, 0);
}

TEST_F(I8042Test, SelfTestAndInterfaceTest) {
  EXPECT_EQ(command_with_reply(I8042::kCmdSelfTest), 0x55);
  EXPECT_EQ(command_with_reply(I8042::kCmdKbdTest), 0x00);
  EXPECT_EQ(in(I8042::kCommandPort)&I8042::kStatusOutputFull, 0);
}

TEST_F(I8042Test, CommandByteReadWrite) {
  const uint8_t initial = command_with_reply(I8042::kCmdReadCtr);
  EXPECT_NE(initial & I8042::kCtrSystemFlag, 0);
  out(I8042::kCommandPort, I8042::kCmdWriteCtr);
  EXPECT_NE(in(I8042::kCommandPort)&I8042::kStatusLastWasCommand, 0);
  out(I8042::kDataPort, 0x65);
  EXPECT_EQ(in(I8042::kCommandPort)&I8042::kStatusLastWasCommand, 0);
  EXPECT_EQ(command_with_reply(I8042::kCmdReadCtr), 0x65);
  EXPECT_TRUE(stopper.requests().empty());
}

TEST_F(I8042Test, EnableDisableTogglesCommandByte) {
  out(I8042::kCommandPort, I8042::kCmdKbdDisable);
  out(I8042::kCommandPort, I8042::kCmdAuxDisable);
  uint8_t ctr = command_with_reply(I8042::kCmdReadCtr);
  EXPECT_NE(ctr & I8042::kCtrKbdDisabled, 0);
  EXPECT_NE(ctr & I8042::kCtrAuxDisabled, 0);
  out(I8042::kCommandPort, I8042::kCmdKbdEnable);
  out(I8042::kCommandPort, I8042::kCmdAuxEnable);
  ctr = command_with_reply(I8042::kCmdReadCtr);
  EXPECT_EQ(ctr & (I8042::kCtrKbdDisabled | I8042::kCtrAuxDisabled), 0);
}

TEST_F(I8042Test, ReadOutputPort) {
  EXPECT_NE(command_with_reply(I8042::kCmdReadOutputPort) & 0x01, 0);  // reset line inactive
}

TEST_F(I8042Test, PulseResetStopsVm) {
  out(I8042::kCommandPort, I8042::kCmdPulseReset);
  ASSERT_EQ(stopper.requests().size(), 1u);
  EXPECT_EQ(stopper.requests()[0].reason, StopReason::kGuestReset);
}

TEST_F(I8042Test, OutputPortResetLineStopsVm) {
  out(I8042::kCommandPort, I8042::kCmdWriteOutputPort);
  out(I8042::kDataPort, 0x02);
  ASSERT_EQ(stopper.requests().size(), 1u);
  EXPECT_EQ(stopper.requests()[0].reason, StopReason::kGuestReset);
}

TEST_F(I8042Test, NoAuxPort) {
  // Aux loopback answers without the aux-data flag, and the aux test reports a stuck clock.
  out(I8042::kCommandPort, I8042::kCmdWriteAuxBuffer);
  out(I8042::kDataPort, 0x5a);
  const uint8_t status = in(I8042::kCommandPort);
  EXPECT_NE(status & I8042::kStatusOutputFull, 0);
  EXPECT_EQ(status & I8042::kStatusAuxData, 0);
  // The stale loopback byte is replaced by the next command's reply.
  EXPECT_EQ(command_with_reply(I8042::kCmdAuxTest), 0x01);
  EXPECT_EQ(in(I8042::kCommandPort)&I8042::kStatusOutputFull, 0);
}

TEST_F(I8042Test, KeyboardAcknowledgesAndInterrupts) {
  out(I8042::kDataPort, 0xf2);  // get ID
  EXPECT_EQ(irq->edges, 1);
  EXPECT_EQ(in(I8042::kDataPort), 0xfa);
  EXPECT_EQ(irq->edges, 2);  // next byte at the head
  EXPECT_EQ(in(I8042::kDataPort), 0xab);
  EXPECT_EQ(in(I8042::kDataPort), 0x41);  // translated
  EXPECT_EQ(in(I8042::kCommandPort)&I8042::kStatusOutputFull, 0);
  EXPECT_EQ(irq->edges, 3);

  out(I8042::kDataPort, 0xff);  // reset
  EXPECT_EQ(in(I8042::kDataPort), 0xfa);
  EXPECT_EQ(in(I8042::kDataPort), 0xaa);
  out(I8042::kDataPort, 0xed);  // set LEDs and its parameter
  EXPECT_EQ(in(I8042::kDataPort), 0xfa);
  out(I8042::kDataPort, 0x00);
  EXPECT_EQ(in(I8042::kDataPort), 0xfa);
}

TEST_F(I8042Test, NoInterruptWhenDisabledInCommandByte) {
  out(I8042::kCommandPort, I8042::kCmdWriteCtr);
  out(I8042::kDataPort, I8042::kCtrSystemFlag);
  EXPECT_EQ(command_with_reply(I8042::kCmdSelfTest), 0x55);
  out(I8042::kDataPort, 0xf4);
  EXPECT_EQ(irq->edges, 0);
}

TEST_F(I8042Test, AdaptersKeepControllerAlive) {
  std::weak_ptr<I8042> weak = kbc;
  kbc.reset();
  EXPECT_FALSE(weak.expired());  // the bus holds the ports, the ports hold the controller
  EXPECT_EQ(command_with_reply(I8042::kCmdSelfTest), 0x55);
}

}  // namespace
}  // namespace vmm::devices
