// A stand-in for the guest agent in the KVM tests: started as the initramfs's first process
// (rdinit=), it says so on the console and becomes the initramfs's /init with the same argv,
// as the agent's init-wrapper mode does. Static: the initramfs may have no C library.
#include <unistd.h>

#include <cstdio>

int main(int /*argc*/, char** argv) {
  std::printf("VMMTEST: agent stand-in pid=%d argv0=%s\n", static_cast<int>(::getpid()), argv[0]);
  std::fflush(stdout);
  ::execv("/init", argv);
  std::perror("agent stand-in: exec /init");
  return 1;
}
