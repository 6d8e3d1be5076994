/* blkbench MODE DEVICE SECONDS [BLOCK_SIZE [DEPTH]]: a small block-device benchmark for the
 * guest, so that vmm and QEMU are measured with the same tool on the same kernel (tests/bench/).
 *   MODE seqwrite | seqread  sequential O_DIRECT transfers of BLOCK_SIZE (default 1 MiB),
 *                            wrapping at the end of the device
 *   MODE randread            O_DIRECT reads of BLOCK_SIZE (default 4 KiB) at random aligned
 *                            offsets, one at a time (queue depth 1), or DEPTH at a time from
 *                            DEPTH threads (1..256; they spread over the vCPUs and so over a
 *                            multi-queue disk's queues)
 * Runs for SECONDS and prints one line:
 * "blkbench MODE bytes=N ops=N seconds=S MBps=X IOPS=Y depth=D".
 * Exit status 1 on any I/O error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
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
  fprintf(stderr,
          "usage: blkbench seqwrite|seqread|randread DEVICE SECONDS [BLOCK_SIZE [DEPTH]]\n");
  return 2;
}

struct job {
  int fd;
  int writing;
  int random_reads;
  size_t block;
  uint64_t blocks;
  double start;
  double seconds;
  uint64_t seed;
  uint64_t ops; /* out */
  int failed;   /* out */
};

/* One stream of synchronous transfers until the time is up. */
static void* run_job(void* arg) {
  struct job* j = arg;
  void* buf = NULL;
  if (posix_memalign(&buf, 4096, j->block) != 0) {
    j->failed = 1;
    return NULL;
  }
  /* Written data is not all zeroes, so no layer below can shortcut it. */
  for (size_t i = 0; i < j->block; ++i) ((unsigned char*)buf)[i] = (unsigned char)(i * 131 + 7);
  uint64_t state = j->seed;
  uint64_t sequential = 0;
  while (now() - j->start < j->seconds) {
    uint64_t index;
    if (j->random_reads) {
      index = next_random(&state) % j->blocks;
    } else {
      index = sequential++ % j->blocks;
    }
    const off_t offset = (off_t)(index * j->block);
    const ssize_t n =
        j->writing ? pwrite(j->fd, buf, j->block, offset) : pread(j->fd, buf, j->block, offset);
    if (n != (ssize_t)j->block) {
      fprintf(stderr, "blkbench: %s at %lld: %s\n", j->writing ? "write" : "read",
              (long long)offset, n < 0 ? strerror(errno) : "short transfer");
      j->failed = 1;
      break;
    }
    ++j->ops;
  }
  free(buf);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 4 || argc > 6) return usage();
  const char* mode = argv[1];
  const int writing = strcmp(mode, "seqwrite") == 0;
  const int random_reads = strcmp(mode, "randread") == 0;
  if (!writing && !random_reads && strcmp(mode, "seqread") != 0) return usage();
  const double seconds = strtod(argv[3], NULL);
  size_t block = random_reads ? 4096 : 1 << 20;
  if (argc >= 5) block = strtoul(argv[4], NULL, 0);
  unsigned long depth = 1;
  if (argc == 6) depth = strtoul(argv[5], NULL, 0);
  if (seconds <= 0 || block == 0 || block % 4096 != 0) return usage();
  /* Several sequential streams would only fight over the same blocks. */
  if (depth == 0 || depth > 256 || (depth > 1 && !random_reads)) return usage();

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

  struct job jobs[256];
  pthread_t threads[256];
  const double start = now();
  for (unsigned long i = 0; i < depth; ++i) {
    jobs[i] = (struct job){.fd = fd,
                           .writing = writing,
                           .random_reads = random_reads,
                           .block = block,
                           .blocks = size / block,
                           .start = start,
                           .seconds = seconds,
                           .seed = 0x9e3779b97f4a7c15ULL + i * 0x2545f4914f6cdd1dULL};
  }
  if (depth == 1) {
    run_job(&jobs[0]);
  } else {
    for (unsigned long i = 0; i < depth; ++i) {
      if (pthread_create(&threads[i], NULL, run_job, &jobs[i]) != 0) {
        fprintf(stderr, "blkbench: cannot start thread %lu\n", i);
        return 1;
      }
    }
    for (unsigned long i = 0; i < depth; ++i) pthread_join(threads[i], NULL);
  }
  uint64_t ops = 0;
  for (unsigned long i = 0; i < depth; ++i) {
    if (jobs[i].failed) return 1;
    ops += jobs[i].ops;
  }
  if (writing && fsync(fd) != 0) {
    fprintf(stderr, "blkbench: fsync: %s\n", strerror(errno));
    return 1;
  }
  const double elapsed = now() - start;
  const double bytes = (double)ops * (double)block;
  printf("blkbench %s bytes=%.0f ops=%llu seconds=%.2f MBps=%.1f IOPS=%.0f depth=%lu\n", mode,
         bytes, (unsigned long long)ops, elapsed, bytes / elapsed / 1e6, (double)ops / elapsed,
         depth);
  close(fd);
  return 0;
}
