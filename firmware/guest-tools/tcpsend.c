/* tcpsend ADDR PORT: sends standard input to the IPv4 TCP server ADDR:PORT, closes its side
 * (shutdown SHUT_WR) and waits for the server to close, so status 0 means every byte was
 * taken. The network tests use it instead of busybox nc, which copies 1 KiB per system call:
 * under nested virtualisation every small segment costs the guest an exit, and a 64 MiB
 * transfer then takes minutes. Large writes let the guest's TCP hand the NIC 64 KiB
 * segmentation-offload frames. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kChunk = 1 << 20 };

static int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    size -= (size_t)n;
  }
  return 0;
}

int main(int argc, char** argv) {
  char* end = NULL;
  unsigned long port = argc == 3 ? strtoul(argv[2], &end, 10) : 0;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  if (argc != 3 || end == argv[2] || *end != '\0' || port == 0 || port > 65535 ||
      inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
    fprintf(stderr, "usage: tcpsend ADDR PORT < data (ADDR: IPv4, PORT: 1-65535)\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (const struct sockaddr*)&sa, sizeof sa) != 0) {
    fprintf(stderr, "tcpsend: connect %s:%lu: %s\n", argv[1], port, strerror(errno));
    return 1;
  }
  char* buf = malloc(kChunk);
  if (buf == NULL) return 1;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, kChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fprintf(stderr, "tcpsend: read: %s\n", strerror(errno));
      return 1;
    }
    if (n == 0) break;
    if (write_all(fd, buf, (size_t)n) != 0) {
      fprintf(stderr, "tcpsend: send: %s\n", strerror(errno));
      return 1;
    }
  }
  if (shutdown(fd, SHUT_WR) != 0) {
    fprintf(stderr, "tcpsend: shutdown: %s\n", strerror(errno));
    return 1;
  }
  /* The server's close ends the transfer; anything it says first is ignored. */
  for (;;) {
    ssize_t n = recv(fd, buf, kChunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fprintf(stderr, "tcpsend: recv: %s\n", strerror(errno));
      return 1;
    }
    if (n == 0) break;
  }
  close(fd);
  free(buf);
  return 0;
}
