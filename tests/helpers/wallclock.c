/*
 * One process's wall clock, moved at run time by an offset a test sets.
 *
 * LD_PRELOAD this library and point WALLCLOCK_OFFSET_FILE at a file of
 * 8 bytes: a signed 64-bit little-endian count of nanoseconds added to
 * CLOCK_REALTIME (and so to gettimeofday and time). The file is mapped, so a
 * test moves the clock by rewriting those 8 bytes in place (never truncate
 * it). Monotonic clocks and sleeps are left alone: they are what the gateway's
 * timers must run on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static const volatile int64_t *offset_ns;

__attribute__((constructor)) static void init(void)
{
    real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    const char *path = getenv("WALLCLOCK_OFFSET_FILE");
    if (path == NULL)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    void *map = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map != MAP_FAILED)
        offset_ns = map;
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
    if (real_clock_gettime == NULL)
        real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real_clock_gettime(clock, ts);
    if (rc == 0 && offset_ns != NULL
        && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) {
        int64_t total = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + *offset_ns;
        ts->tv_sec = total / 1000000000;
        ts->tv_nsec = total % 1000000000;
    }
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz; /* obsolete */
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
