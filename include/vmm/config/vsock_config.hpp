#pragma once
// What `--vsock cid=N,socket=PATH` (or a config file's "vsock" object) asks for, as plain
// values: the guest's context ID and the host Unix socket of the virtio-vsock device. The
// device and its host side live in vmm/virtio/vsock_device.hpp.
#include <cstdint>
#include <filesystem>
#include <string>

namespace vmm {

struct VsockConfig {
  uint32_t cid = 0;              // the guest's CID, 3 .. 0xfffffffe
  std::filesystem::path socket;  // host connections arrive here; guest ones go to PATH_PORT
  friend bool operator==(const VsockConfig&, const VsockConfig&) = default;
};

// CIDs 0 (hypervisor), 1 (local) and 2 (host) are reserved, and 0xffffffff is VMADDR_CID_ANY.
inline constexpr uint64_t kVsockMinGuestCid = 3;
inline constexpr uint64_t kVsockMaxGuestCid = 0xfffffffeULL;

// What is wrong with a CID (any 64-bit value a user wrote), or "" when it is a guest's CID.
[[nodiscard]] std::string vsock_cid_problem(uint64_t cid);
// What is wrong with a socket path before vmm binds it, or "": it must be non-empty, fit in a
// sockaddr_un, lie in a directory that exists and be free or a socket. (A socket there is
// replaced when it is stale; one a live server holds is refused when the device binds.)
[[nodiscard]] std::string vsock_socket_problem(const std::filesystem::path& socket);

}  // namespace vmm
