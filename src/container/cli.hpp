#pragma once
// Command-line entry points of the container mode.
//
// Exit statuses, both entry points:
//   2    user error: bad flags, unreadable or invalid config.json, missing rootfs or image,
//        unknown namespace type, duplicate or unknown container id. Nothing is created.
// `vmm container run`:
//   N    the container's exit status, passed through (128 + signal when it was killed;
//        137 after an OOM kill, reported on stderr)
//   125  the runtime failed (as docker does), nothing is left behind
// `vmm oci ...` (runc-compatible):
//   0    success; `run` in the foreground passes the container's status through as above
//   1    the runtime failed (what runc returns, and what tools driving it expect)
namespace vmm::container {

inline constexpr int kContainerRuntimeError = 125;
inline constexpr int kOciRuntimeError = 1;

// `vmm container ...`: argv[0] is "container".
int container_main(int argc, char** argv);
// `vmm oci ...` (argv[0] "oci") or when the binary is invoked as vmm-runc/runc (argv[0] is
// that name): the runc-compatible command line.
int oci_main(int argc, char** argv);

}  // namespace vmm::container
