/* outb PORT VALUE: writes one byte to an x86 I/O port from a Linux guest's user space.
 * The test guest uses it to hit the debug-exit port (0xf4), which makes the VMM exit with
 * status (VALUE << 1) | 1. PORT and VALUE accept decimal or 0x-prefixed hex.
 *
 * It writes through /dev/port, so the kernel issues the OUT instruction: a user-space OUT after
 * ioperm() depends on the TSS I/O bitmap, which at least one nested setup (KVM on QEMU TCG's
 * SVM) does not honour. ioperm() stays as the fallback for kernels without /dev/port. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <unistd.h>

static int parse(const char* text, unsigned long max, unsigned long* out) {
  char* end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || value > max) {
    return -1;
  }
  *out = value;
  return 0;
}

int main(int argc, char** argv) {
  unsigned long port = 0;
  unsigned long value = 0;
  if (argc != 3 || parse(argv[1], 0xffff, &port) != 0 || parse(argv[2], 0xff, &value) != 0) {
    fprintf(stderr, "usage: outb PORT VALUE (PORT <= 0xffff, VALUE <= 0xff)\n");
    return 2;
  }
  unsigned char byte = (unsigned char)value;
  int fd = open("/dev/port", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t written = pwrite(fd, &byte, 1, (off_t)port);
    int saved = errno;
    close(fd);
    if (written == 1) {
      return 0;
    }
    fprintf(stderr, "outb: writing /dev/port at 0x%lx failed: %s\n", port, strerror(saved));
    return 1;
  }
  /* ioperm covers ports below 0x400; iopl is needed above. */
  int rc = port < 0x400 ? ioperm(port, 1, 1) : iopl(3);
  if (rc != 0) {
    fprintf(stderr, "outb: cannot get access to port 0x%lx: %s\n", port, strerror(errno));
    return 1;
  }
  outb(byte, (unsigned short)port);
  return 0;
}
