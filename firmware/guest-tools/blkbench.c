/* blkbench MODE DEVICE SECONDS [BLOCK_SIZE]: a small block-device benchmark for the guest, so
 * that vmm and QEMU are measured with the same tool on the same kernel (tests/bench/).
 *   MODE seqwrite | seqread  sequential O_DIRECT transfers of BLOCK_SIZE (default 1 MiB),
 *                            wrapping at the end of the device
 *   MODE randread            O_DIRECT reads of BLOCK_SIZE (default 4 KiB) at random aligned
 *                            offsets, one at a time (queue depth 1)
 * Runs for SECONDS and prints one line: "blkbench MODE bytes=N ops=N seconds=S MBps=X IOPS=Y".
 * Exit status 1 on any I/O error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64: reproducible offsets without libc's rand() state. */
static uint64_t next_random(uint64_t* state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

static int usage(void) {
  fprintf(stderr, "usage: blkbench seqwrite|seqread|randread DEVICE SECONDS [BLOCK_SIZE]\n");
  return 2;
}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) return usage();
  const char* mode = argv[1];
  const int writing = strcmp(mode, "seqwrite") == 0;
  const int random_reads = strcmp(mode, "randread") == 0;
  if (!writing && !random_reads && strcmp(mode, "seqread") != 0) return usage();
  const double seconds = strtod(argv[3], NULL);
  size_t block = random_reads ? 4096 : 1 << 20;
  if (argc == 5) block = strtoul(argv[4], NULL, 0);
  if (seconds <= 0 || block == 0 || block % 4096 != 0) return usage();

  const int fd = open(argv[2], (writing ? O_WRONLY : O_RDONLY) | O_DIRECT);
  if (fd < 0) {
    fprintf(stderr, "blkbench: open %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  /* A block device reports its size by ioctl; a regular file (handy for trying it) by fstat. */
  uint64_t size = 0;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    size = (uint64_t)st.st_size;
  } else if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
    size = 0;
  }
  if (size < block) {
    fprintf(stderr, "blkbench: %s: no size or smaller than one block\n", argv[2]);
    return 1;
  }
  const uint64_t blocks = size / block;

  void* buf = NULL;
  if (posix_memalign(&buf, 4096, block) != 0) return 1;
  /* Written data is not all zeroes, so no layer below can shortcut it. */
  for (size_t i = 0; i < block; ++i) ((unsigned char*)buf)[i] = (unsigned char)(i * 131 + 7);

  uint64_t state = 0x9e3779b97f4a7c15ULL;
  uint64_t ops = 0;
  uint64_t sequential = 0;
  const double start = now();
  double elapsed = 0;
  while ((elapsed = now() - start) < seconds) {
    uint64_t index;
    if (random_reads) {
      index = next_random(&state) % blocks;
    } else {
      index = sequential++ % blocks;
    }
    const off_t offset = (off_t)(index * block);
    const ssize_t n = writing ? pwrite(fd, buf, block, offset) : pread(fd, buf, block, offset);
    if (n != (ssize_t)block) {
      fprintf(stderr, "blkbench: %s at %lld: %s\n", writing ? "write" : "read", (long long)offset,
              n < 0 ? strerror(errno) : "short transfer");
      return 1;
    }
    ++ops;
  }
  if (writing && fsync(fd) != 0) {
    fprintf(stderr, "blkbench: fsync: %s\n", strerror(errno));
    return 1;
  }
  elapsed = now() - start;
  const double bytes = (double)ops * (double)block;
  printf("blkbench %s bytes=%.0f ops=%llu seconds=%.2f MBps=%.1f IOPS=%.0f\n", mode, bytes,
         (unsigned long long)ops, elapsed, bytes / elapsed / 1e6, (double)ops / elapsed);
  free(buf);
  close(fd);
  return 0;
}
