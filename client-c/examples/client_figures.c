/* The C client's figures for `chimaera_bench --mode clients`: the admin
 * ping's round trip (p50 of each call) and 1 MiB writes to a bdev from a
 * bulk buffer. Prints `name value` lines.
 *
 *   client_figures PORT POOL_MAJOR.MINOR PINGS WRITES
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chimaera.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void check(chi_status s, const char *what) {
  if (s != CHI_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, chi_status_name(s), chi_last_error());
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s PORT POOL PINGS WRITES\n", argv[0]);
    return 2;
  }
  chi_pool_id dev = {0, 0};
  if (sscanf(argv[2], "%u.%u", &dev.major, &dev.minor) != 2) return 2;
  long pings = atol(argv[3]), writes = atol(argv[4]);
  chi_client *client = NULL;
  check(chi_attach((uint16_t)atoi(argv[1]), &client), "attach");

  double *times = malloc(sizeof *times * (size_t)pings);
  for (long i = 0; i < pings / 10; i++) check(chi_ping(client), "ping");
  for (long i = 0; i < pings; i++) {
    double t = now_us();
    check(chi_ping(client), "ping");
    times[i] = now_us() - t;
  }
  qsort(times, (size_t)pings, sizeof *times, by_value);
  printf("ping_p50_us %.3f\n", times[pings / 2]);
  free(times);

  const uint64_t mib = 1 << 20, span = 64 << 20;
  chi_bulk *buf = NULL;
  check(chi_bulk_alloc(client, mib, &buf), "bulk");
  memset(chi_bulk_data(buf), 0x5a, mib);
  double t = now_us();
  for (long i = 0; i < writes; i++) check(chi_bdev_write_at(client, dev, ((uint64_t)i * mib) % span, buf, NULL), "write");
  printf("bdev_write_1m_mbps %.1f\n", (double)writes * mib / (now_us() - t));
  chi_bulk_free(buf);
  chi_client_free(client);
  return 0;
}
