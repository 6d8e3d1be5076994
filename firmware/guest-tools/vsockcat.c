/* vsockcat: AF_VSOCK stream sockets from a test guest's shell.
 *
 *   vsockcat cid                    print the guest's own CID (from /dev/vsock)
 *   vsockcat listen PORT            accept connections on PORT forever; each one (in a forked
 *                                   child) echoes back what it reads, and closes its sending
 *                                   side once the peer closed its own
 *   vsockcat -d listen PORT         the same in the background: returns (status 0) once the
 *                                   port listens, so a script can go on
 *   vsockcat connect CID PORT       connect to CID:PORT, copy stdin to the connection and the
 *                                   connection to stdout; at the end of stdin the sending side
 *                                   is shut down (a half-close) and the copy goes on until the
 *                                   peer closes
 *
 * Exit status: 0 on success, 1 when a socket call fails (the reason on stderr), 2 on bad
 * arguments. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage(void) {
  fprintf(stderr, "usage: vsockcat cid | vsockcat [-d] listen PORT | vsockcat connect CID PORT\n");
  return 2;
}

static int fail(const char* what) {
  fprintf(stderr, "vsockcat: %s: %s\n", what, strerror(errno));
  return 1;
}

static int parse_u32(const char* text, unsigned int* out) {
  char* end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || value > 0xffffffffUL) return -1;
  *out = (unsigned int)value;
  return 0;
}

/* Writes all of buf; -1 on error. */
static int write_all(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* A stream socket and the address CID:PORT; -1 (reason on stderr) when no socket. */
static int vsock_socket(unsigned int cid, unsigned int port, struct sockaddr_vm* addr) {
  memset(addr, 0, sizeof *addr);
  addr->svm_family = AF_VSOCK;
  addr->svm_cid = cid;
  addr->svm_port = port;
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  return fd;
}

static int local_cid(void) {
  int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("/dev/vsock");
  unsigned int cid = 0;
  if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) != 0)
    return fail("IOCTL_VM_SOCKETS_GET_LOCAL_CID");
  close(fd);
  printf("%u\n", cid);
  return 0;
}

static void echo(int conn) {
  static char buf[65536];
  for (;;) {
    ssize_t n = read(conn, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (write_all(conn, buf, (size_t)n) != 0) break;
  }
  shutdown(conn, SHUT_WR);
  /* Wait for the peer's close, so the last bytes are not lost to an early reset. */
  while (read(conn, buf, sizeof buf) > 0) {
  }
  close(conn);
}

static int listen_forever(unsigned int port, int background) {
  struct sockaddr_vm addr;
  int fd = vsock_socket(VMADDR_CID_ANY, port, &addr);
  if (fd < 0) return 1;
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0) return fail("bind");
  if (listen(fd, 16) != 0) return fail("listen");
  if (background) {
    pid_t pid = fork();
    if (pid < 0) return fail("fork");
    if (pid > 0) return 0; /* listening: the caller goes on */
    setsid();
  }
  signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
  for (;;) {
    int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return fail("accept");
    }
    pid_t child = fork();
    if (child == 0) {
      close(fd);
      echo(conn);
      _exit(0);
    }
    close(conn);
  }
}

/* Both directions at once: the connection is read whenever it has data, also while stdin's
 * data waits for room on it, so an echoing peer can never wedge the copy. */
static int connect_and_copy(unsigned int cid, unsigned int port) {
  struct sockaddr_vm addr;
  int fd = vsock_socket(cid, port, &addr);
  if (fd < 0) return 1;
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) return fail("connect");
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) return fail("fcntl");
  static char in[65536];
  static char out[65536];
  size_t pending = 0; /* stdin bytes not yet on the connection, from in + sent */
  size_t sent = 0;
  int stdin_open = 1;
  for (;;) {
    struct pollfd p[2] = {{fd, (short)(POLLIN | (pending > 0 ? POLLOUT : 0)), 0},
                          {stdin_open && pending == 0 ? 0 : -1, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail("poll");
    }
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ssize_t n = read(fd, out, sizeof out);
      if (n < 0 && errno != EINTR && errno != EAGAIN) return fail("read from the connection");
      if (n == 0) break; /* the peer closed: done */
      if (n > 0 && write_all(1, out, (size_t)n) != 0) return fail("write to stdout");
    }
    if (pending > 0 && (p[0].revents & POLLOUT) != 0) {
      ssize_t n = write(fd, in + sent, pending);
      if (n < 0 && errno != EINTR && errno != EAGAIN) return fail("write to the connection");
      if (n > 0) {
        sent += (size_t)n;
        pending -= (size_t)n;
      }
    }
    if (p[1].fd >= 0 && p[1].revents != 0) {
      ssize_t n = read(0, in, sizeof in);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail("read from stdin");
      if (n == 0) {
        stdin_open = 0;
        if (shutdown(fd, SHUT_WR) != 0) return fail("shutdown");
      } else {
        pending = (size_t)n;
        sent = 0;
      }
    }
  }
  close(fd);
  return 0;
}

int main(int argc, char** argv) {
  int background = 0;
  if (argc > 1 && strcmp(argv[1], "-d") == 0) {
    background = 1;
    argc--;
    argv++;
  }
  unsigned int cid = 0;
  unsigned int port = 0;
  if (argc == 2 && strcmp(argv[1], "cid") == 0) return local_cid();
  if (argc == 3 && strcmp(argv[1], "listen") == 0 && parse_u32(argv[2], &port) == 0) {
    return listen_forever(port, background);
  }
  if (argc == 4 && strcmp(argv[1], "connect") == 0 && parse_u32(argv[2], &cid) == 0 &&
      parse_u32(argv[3], &port) == 0 && !background) {
    return connect_and_copy(cid, port);
  }
  return usage();
}
