#include "devices/legacy/serial.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/recording_irq_line.hpp"

namespace vmm::devices {
namespace {

using RecordingIrq = vmm::testing::RecordingIrqLine;

class RecordingOutput final : public SerialOutput {
 public:
  void write(std::span<const uint8_t> bytes) override {
    std::lock_guard lock(mutex);
    data.insert(data.end(), bytes.begin(), bytes.end());
  }
  void flush() override { ++flushes; }
  std::string text() {
    std::lock_guard lock(mutex);
    return {data.begin(), data.end()};
  }
  std::mutex mutex;
  std::vector<uint8_t> data;
  int flushes = 0;
};

class SerialTest : public ::testing::Test {
 protected:
  uint8_t in(uint64_t offset) {
    uint8_t b = 0;
    serial.read(offset, std::span(&b, 1));
    return b;
  }
  void out(uint64_t offset, uint8_t value) { serial.write(offset, std::span(&value, 1)); }
  size_t feed(const std::string& s) {
    return serial.enqueue_input(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }

  std::shared_ptr<RecordingIrq> irq = std::make_shared<RecordingIrq>();
  std::shared_ptr<RecordingOutput> output = std::make_shared<RecordingOutput>();
  Serial serial{irq, output};
};

TEST_F(SerialTest, TransmitsToSink) {
  for (char c : std::string("hello\n")) out(Serial::kRbrThrDll, static_cast<uint8_t>(c));
  EXPECT_EQ(output->text(), "hello\n");
  serial.flush();
  EXPECT_EQ(output->flushes, 1);
}

TEST_F(SerialTest, DlabSwitchesToDivisorLatch) {
  out(Serial::kIerDlm, 0x05);  // IER
  out(Serial::kLcr, Serial::kLcrDlab | 0x03);
  out(Serial::kRbrThrDll, 0x01);  // DLL, not a transmitted byte
  out(Serial::kIerDlm, 0x02);     // DLM
  EXPECT_EQ(in(Serial::kRbrThrDll), 0x01);
  EXPECT_EQ(in(Serial::kIerDlm), 0x02);
  EXPECT_TRUE(output->data.empty());
  out(Serial::kLcr, 0x03);
  EXPECT_EQ(in(Serial::kLcr), 0x03);
  EXPECT_EQ(in(Serial::kIerDlm), 0x05);  // IER was kept apart from DLM
  out(Serial::kRbrThrDll, 'A');
  EXPECT_EQ(output->text(), "A");
}

TEST_F(SerialTest, ScratchRegisterHoldsValue) {
  out(Serial::kScr, 0xa5);
  EXPECT_EQ(in(Serial::kScr), 0xa5);
  out(Serial::kScr, 0x5a);
  EXPECT_EQ(in(Serial::kScr), 0x5a);
}

TEST_F(SerialTest, LineStatusReflectsData) {
  EXPECT_EQ(in(Serial::kLsr), Serial::kLsrThrEmpty | Serial::kLsrTxEmpty);
  EXPECT_EQ(feed("ab"), 2u);
  EXPECT_EQ(in(Serial::kLsr)&Serial::kLsrDataReady, Serial::kLsrDataReady);
  EXPECT_EQ(in(Serial::kRbrThrDll), 'a');
  EXPECT_EQ(in(Serial::kRbrThrDll), 'b');
  EXPECT_EQ(in(Serial::kLsr)&Serial::kLsrDataReady, 0);
}

TEST_F(SerialTest, IirReportsNoInterruptAndFifoBits) {
  EXPECT_EQ(in(Serial::kIirFcr), Serial::kIirNoInterrupt);
  out(Serial::kIirFcr, Serial::kFcrEnable);
  EXPECT_EQ(in(Serial::kIirFcr), Serial::kIirFifoEnabled | Serial::kIirNoInterrupt);
}

TEST_F(SerialTest, ThrEmptyInterruptOnEnableAndAfterEachByte) {
  out(Serial::kIerDlm, Serial::kIerThrEmpty);
  EXPECT_TRUE(irq->level());
  EXPECT_EQ(in(Serial::kIirFcr), Serial::kIirThrEmpty);  // reading IIR acknowledges it
  EXPECT_FALSE(irq->level());
  EXPECT_EQ(in(Serial::kIirFcr), Serial::kIirNoInterrupt);

  out(Serial::kRbrThrDll, 'x');
  EXPECT_TRUE(irq->level());
  EXPECT_EQ(in(Serial::kIirFcr), Serial::kIirThrEmpty);
  EXPECT_FALSE(irq->level());

  // Disabling ETBEI lowers the line; transmitting then raises nothing.
  out(Serial::kRbrThrDll, 'y');
  EXPECT_TRUE(irq->level());
  out(Serial::kIerDlm, 0);
  EXPECT_FALSE(irq->level());
  out(Serial::kRbrThrDll, 'z');
  EXPECT_FALSE(irq->level());
  EXPECT_EQ(in(Serial::kIirFcr), Serial::kIirNoInterrupt);
  EXPECT_EQ(irq->transitions(), (std::vector<bool>{true, false, true, false, true, false}));
}

TEST_F(SerialTest, ReenablingEtbeiRaisesThreAgain) {
  // Linux's 8250 driver probes this sequence to detect UARTs with a broken THRE interrupt.
  out(Serial::kIerDlm, Serial::kIerThrEmpty);
  EXPECT_EQ(in(Serial::kIirFcr)&0x0f, Serial::kIirThrEmpty);
  out(Serial::kIerDlm, 0);
  out(Serial::kIerDlm, Serial::kIerThrEmpty);
  EXPECT_EQ(in(Serial::kIirFcr)&0x0f, Serial::kIirThrEmpty);
}

TEST_F(SerialTest, RxDataInterruptHoldsLineUntilDrained) {
  out(Serial::kIerDlm, Serial::kIerRxData);
  EXPECT_FALSE(irq->level());
  feed("hi");
  EXPECT_TRUE(irq->level());
  EXPECT_EQ(in(Serial::kIirFcr), Serial::kIirRxData);
  EXPECT_EQ(in(Serial::kRbrThrDll), 'h');
  EXPECT_TRUE(irq->level());  // level-triggered: still data
  EXPECT_EQ(in(Serial::kRbrThrDll), 'i');
  EXPECT_FALSE(irq->level());
  EXPECT_EQ(irq->transitions(), (std::vector<bool>{true, false}));
}

TEST_F(SerialTest, InterruptPriorities) {
  out(Serial::kIirFcr, Serial::kFcrEnable);
  out(Serial::kMcr, Serial::kMcrLoopback);
  out(Serial::kIerDlm, 0x0f);
  // Modem status change (entering loopback dropped CTS/DSR/DCD), THRE pending, then data and
  // an overrun: all four sources at once.
  for (int i = 0; i < 17; ++i) out(Serial::kRbrThrDll, static_cast<uint8_t>(i));
  EXPECT_EQ(in(Serial::kIirFcr)&0x0f, Serial::kIirLineStatus);
  EXPECT_NE(in(Serial::kLsr)&Serial::kLsrOverrun, 0);  // reading LSR clears OE
  EXPECT_EQ(in(Serial::kIirFcr)&0x0f, Serial::kIirRxData);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(in(Serial::kRbrThrDll), i);
  EXPECT_EQ(in(Serial::kIirFcr)&0x0f, Serial::kIirThrEmpty);  // acknowledged by this read
  EXPECT_TRUE(irq->level());                                  // modem status still pending
  EXPECT_EQ(in(Serial::kIirFcr)&0x0f, Serial::kIirModemStatus);
  EXPECT_NE(in(Serial::kMsr)&0x0f, 0);  // reading MSR clears the deltas
  EXPECT_EQ(in(Serial::kIirFcr)&0x0f, Serial::kIirNoInterrupt);
  EXPECT_FALSE(irq->level());
}

TEST_F(SerialTest, FifoOverrunSetsOe) {
  out(Serial::kIirFcr, Serial::kFcrEnable);
  out(Serial::kMcr, Serial::kMcrLoopback);
  for (size_t i = 0; i < Serial::kRxFifoSize; ++i) out(Serial::kRbrThrDll, 'a');
  EXPECT_EQ(in(Serial::kLsr)&Serial::kLsrOverrun, 0);  // exactly full is fine
  out(Serial::kRbrThrDll, 'b');
  const uint8_t lsr = in(Serial::kLsr);
  EXPECT_NE(lsr & Serial::kLsrOverrun, 0);
  EXPECT_NE(lsr & Serial::kLsrDataReady, 0);
  EXPECT_EQ(in(Serial::kLsr)&Serial::kLsrOverrun, 0);  // cleared by the read
  for (size_t i = 0; i < Serial::kRxFifoSize; ++i) EXPECT_EQ(in(Serial::kRbrThrDll), 'a');
  EXPECT_EQ(in(Serial::kLsr)&Serial::kLsrDataReady, 0);  // the 17th byte was lost
}

TEST_F(SerialTest, WithoutFifoOneByteHolds) {
  out(Serial::kMcr, Serial::kMcrLoopback);
  out(Serial::kRbrThrDll, '1');
  out(Serial::kRbrThrDll, '2');
  EXPECT_NE(in(Serial::kLsr)&Serial::kLsrOverrun, 0);
  EXPECT_EQ(in(Serial::kRbrThrDll), '1');
}

TEST_F(SerialTest, FcrClearsReceiveFifo) {
  out(Serial::kIirFcr, Serial::kFcrEnable);
  feed("abc");
  out(Serial::kIirFcr, Serial::kFcrEnable | Serial::kFcrClearRx);
  EXPECT_EQ(in(Serial::kLsr)&Serial::kLsrDataReady, 0);
}

TEST_F(SerialTest, LoopbackEchoesAndMirrorsModemLines) {
  out(Serial::kMcr, Serial::kMcrLoopback);
  out(Serial::kRbrThrDll, 'L');
  EXPECT_TRUE(output->data.empty());  // nothing leaves the UART
  EXPECT_EQ(in(Serial::kRbrThrDll), 'L');

  in(Serial::kMsr);  // clear the deltas from entering loopback
  out(Serial::kMcr, Serial::kMcrLoopback | Serial::kMcrRts | Serial::kMcrDtr);
  EXPECT_EQ(in(Serial::kMsr),
            Serial::kMsrCts | Serial::kMsrDsr | Serial::kMsrDeltaCts | Serial::kMsrDeltaDsr);
  out(Serial::kMcr, Serial::kMcrLoopback | Serial::kMcrOut1 | Serial::kMcrOut2);
  EXPECT_EQ(in(Serial::kMsr), Serial::kMsrRi | Serial::kMsrDcd | Serial::kMsrDeltaCts |
                                  Serial::kMsrDeltaDsr | Serial::kMsrDeltaDcd);
  out(Serial::kMcr, Serial::kMcrLoopback);  // RI falls: trailing edge
  EXPECT_EQ(in(Serial::kMsr), Serial::kMsrTrailingRi | Serial::kMsrDeltaDcd);
}

TEST_F(SerialTest, ModemStatusOutsideLoopback) {
  EXPECT_EQ(in(Serial::kMsr), Serial::kMsrDcd | Serial::kMsrDsr | Serial::kMsrCts);
}

TEST_F(SerialTest, HostInputWaitsWhileInLoopback) {
  out(Serial::kMcr, Serial::kMcrLoopback);
  feed("q");
  EXPECT_EQ(in(Serial::kLsr)&Serial::kLsrDataReady, 0);
  out(Serial::kMcr, 0);
  EXPECT_EQ(in(Serial::kRbrThrDll), 'q');
}

TEST_F(SerialTest, HostQueueAppliesBackPressure) {
  const std::string big(Serial::kInputQueueCapacity + 10, 'z');
  EXPECT_EQ(feed(big), Serial::kInputQueueCapacity);
  // The FIFO is disabled: the receiver took one byte out of the host queue, room for one more.
  EXPECT_EQ(feed("more"), 1u);
  EXPECT_EQ(feed("more"), 0u);
  EXPECT_EQ(serial.pending_input(), Serial::kInputQueueCapacity + 1);
  EXPECT_EQ(in(Serial::kRbrThrDll), 'z');
  EXPECT_EQ(feed("more"), 1u);
  EXPECT_EQ(in(Serial::kLsr)&Serial::kLsrOverrun, 0);  // host input never overruns
}

TEST_F(SerialTest, WideAccessesAreIgnored) {
  uint8_t wide[2] = {0, 0};
  serial.read(Serial::kScr, std::span(wide, 2));
  EXPECT_EQ(wide[0], 0xff);
  const uint8_t w[2] = {'a', 'b'};
  serial.write(Serial::kRbrThrDll, std::span(w, 2));
  EXPECT_TRUE(output->data.empty());
}

TEST_F(SerialTest, ConcurrentWritersLoseNothing) {
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) out(Serial::kRbrThrDll, '.');
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(output->data.size(), 4u * kPerThread);
}

}  // namespace
}  // namespace vmm::devices
