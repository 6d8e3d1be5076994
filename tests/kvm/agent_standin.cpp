// A stand-in for the guest agent in the KVM tests. Started as the initramfs's first process
// (rdinit=, `vmm run --agent`), it says so on the console and becomes the initramfs's /init
// with the same argv, as the agent's init-wrapper mode does. Started by the guest's init (the
// hook on a VM instance's disk), it says so on the console and stays, as a service does.
// Static: the guest may have no C library.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

int main(int /*argc*/, char** argv) {
  const std::string line =
      "VMMTEST: agent stand-in pid=" + std::to_string(::getpid()) + " argv0=" + argv[0] + "\n";
  if (::getpid() == 1) {
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
    ::execv("/init", argv);
    std::perror("agent stand-in: exec /init");
    return 1;
  }
  const int console = ::open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (console >= 0) (void)!::write(console, line.data(), line.size());
  for (;;) ::pause();
}
