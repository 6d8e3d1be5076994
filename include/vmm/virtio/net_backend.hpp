#pragma once
// The host side of a virtio-net interface (a TAP device, the user-mode NAT, a test double).
// Every packet crossing this interface starts with a 12-byte virtio_net_hdr (the VERSION_1
// layout) followed by the Ethernet frame; a backend that has no use for the header (user mode)
// writes a zero header on receive and ignores it on send.
//
// Receive is readiness-driven and one-shot: after wait_readable() the backend calls the
// handler given to start() once, on the loop thread, when receive() may return a packet. The
// device then calls receive() until it returns 0 and arms again, or stops arming while the
// guest has no receive buffers: that is the back-pressure, no host-side queue grows meanwhile.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "vmm/event_loop/event_loop.hpp"

namespace vmm::virtio {

inline constexpr size_t kVirtioNetHdrSize = 12;
// The largest Ethernet frame with GSO (64 KiB payload plus the Ethernet header).
inline constexpr size_t kNetMaxFrameSize = 65550;
inline constexpr size_t kNetMaxPacketSize = kVirtioNetHdrSize + kNetMaxFrameSize;

// Offloads in the direction host -> guest: which partially checksummed or segmentation-offload
// packets the guest accepted (GUEST_CSUM, GUEST_TSO4/6, GUEST_UFO).
struct NetOffloads {
  bool csum = false;
  bool tso4 = false;
  bool tso6 = false;
  bool ufo = false;
  friend bool operator==(const NetOffloads&, const NetOffloads&) = default;
};

class NetBackend {
 public:
  NetBackend() = default;
  NetBackend(const NetBackend&) = delete;
  NetBackend& operator=(const NetBackend&) = delete;
  virtual ~NetBackend() = default;

  // For log lines: "tap0", "user".
  [[nodiscard]] virtual std::string describe() const = 0;
  // Whether the backend understands virtio_net_hdr offloads at all; a backend that does not
  // gets no offload features offered to the guest, in either direction.
  [[nodiscard]] virtual bool supports_offloads() const noexcept = 0;
  // What may be handed to the guest from now on (set at activation).
  virtual void set_offloads(const NetOffloads& guest_accepts) = 0;

  // Starts/stops delivering readiness to `on_readable` on `loop`'s thread. After stop()
  // returns the handler is not running and will not run. Callable from any thread.
  virtual void start(EventLoop& loop, std::function<void()> on_readable) = 0;
  virtual void stop() = 0;
  // Loop thread only. Idempotent while armed.
  virtual void wait_readable() = 0;
  // Loop thread only. Reads one packet (header + frame) scattered over `buffers` (guest memory
  // on the fast path, no intermediate copy); returns its length, 0 when none is waiting (or the
  // backend failed: it counts and logs that itself). A packet longer than the buffers is cut:
  // the result is then at least their total, so a caller that passes one spare byte beyond the
  // largest packet it accepts recognises it.
  [[nodiscard]] virtual size_t receive(std::span<const iovec> buffers) = 0;
  // Loop thread only. Sends one packet (header + frame) gathered from `segments`; false when it
  // was dropped.
  virtual bool send(std::span<const iovec> segments) = 0;
  // One queue of a multi-queue backend: whether the host may steer packets to it (the guest
  // uses only the queue pairs it enabled). Loop thread only; nothing to do for most backends.
  virtual void set_queue_active(bool /*active*/) {}
};

}  // namespace vmm::virtio
