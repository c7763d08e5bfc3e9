/* A tour of the C API against a running runtime, used by the tests and by
 * docs/client_guide.md: attach, ping, a RAM bdev pool created at runtime,
 * 1 MiB written and read back through bulk buffers, tasks in flight,
 * fire-and-forget, and the errors a caller sees.
 *
 *   cc client_tour.c -I include -L lib -lchimaera_client -o client_tour
 *   ./client_tour PORT          (this node's runtime, shared memory)
 *   ./client_tour HOST:PORT     (a runtime's networking.client_port, TCP;
 *                                CHI_CLUSTER_KEY_FILE names its key)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chimaera.h"

#define CHECK(call)                                                         \
  do {                                                                      \
    chi_status s_ = (call);                                                 \
    if (s_ != CHI_OK) {                                                     \
      fprintf(stderr, "%s failed: %s: %s\n", #call, chi_status_name(s_),    \
              chi_last_error());                                            \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT | HOST:PORT\n", argv[0]);
    return 2;
  }
  chi_client *client = NULL;
  if (strchr(argv[1], ':') != NULL) {
    CHECK(chi_attach_remote(argv[1], NULL, &client));
    printf("attached over TCP\n");
  } else {
    CHECK(chi_attach((uint16_t)atoi(argv[1]), &client));
  }
  CHECK(chi_ping(client));
  printf("ping ok\n");

  /* A RAM bdev created at runtime, its keys as a compose entry has them. */
  chi_pool_id dev = {300, 7};
  CHECK(chi_create_pool(client, "chimaera_bdev", "ram::c_tour", dev, "local",
                        "{\"bdev_type\": \"ram\", \"capacity\": \"16MB\"}"));
  chi_buffer pools = {0};
  CHECK(chi_list_pools_json(client, &pools));
  printf("pools %s\n", strstr((char *)pools.data, "ram::c_tour") ? "listed" : "missing");
  chi_buffer_free(&pools);

  /* 1 MiB written and read back, without a copy through the task. */
  const size_t mib = 1 << 20;
  chi_block blocks[8];
  size_t nblocks = 0;
  CHECK(chi_bdev_allocate(client, dev, mib, blocks, 8, &nblocks));
  chi_bulk *out = NULL, *in = NULL;
  CHECK(chi_bulk_alloc(client, mib, &out));
  CHECK(chi_bulk_alloc(client, mib, &in));
  uint8_t *bytes = chi_bulk_data(out);
  for (size_t i = 0; i < mib; i++) bytes[i] = (uint8_t)(i * 7 + 3);
  uint64_t done = 0;
  CHECK(chi_bdev_write(client, dev, blocks[0], 0, out, &done));
  CHECK(chi_bdev_read(client, dev, blocks[0], 0, in, &done));
  int same = chi_bulk_len(in) == mib && memcmp(chi_bulk_data(in), bytes, mib) == 0;
  printf("bdev round trip %s (%llu bytes)\n", same ? "equal" : "DIFFERENT", (unsigned long long)done);
  chi_bulk_free(out);
  chi_bulk_free(in);
  CHECK(chi_bdev_free(client, dev, blocks, nblocks));

  /* Many pings in flight, then each waited for with a timeout. */
  enum { IN_FLIGHT = 1000 };
  chi_task **tasks = calloc(IN_FLIGHT, sizeof *tasks);
  chi_pool_id admin = {1, 0};
  for (int i = 0; i < IN_FLIGHT; i++) CHECK(chi_submit(client, admin, CHI_ADMIN_PING, NULL, 0, &tasks[i]));
  int waited = 0;
  for (int i = 0; i < IN_FLIGHT; i++) {
    chi_buffer reply = {0};
    CHECK(chi_task_wait(tasks[i], 10000, &reply));
    chi_buffer_free(&reply);
    chi_task_free(tasks[i]);
    waited++;
  }
  free(tasks);
  printf("waited %d tasks\n", waited);
  CHECK(chi_fire_and_forget(client, admin, CHI_ADMIN_PING, NULL, 0));

  /* Errors: a code, and a message that names what was wrong. */
  chi_pool_id nowhere = {999, 9};
  chi_buffer none = {0};
  chi_status s = chi_call(client, nowhere, CHI_ADMIN_PING, NULL, 0, &none);
  printf("missing pool: %s: %s\n", chi_status_name(s), chi_last_error());
  s = chi_create_pool(client, "chimaera_bdev", "ram::bad", dev, "everywhere", NULL);
  printf("bad query: %s: %s\n", chi_status_name(s), chi_last_error());
  s = chi_ping(NULL);
  printf("null client: %s: %s\n", chi_status_name(s), chi_last_error());

  chi_buffer stats = {0};
  CHECK(chi_stats_json(client, &stats));
  printf("stats %s\n", strstr((char *)stats.data, "\"workers\"") ? "has workers" : "MISSING workers");
  chi_buffer_free(&stats);

  CHECK(chi_destroy_pool(client, dev));
  chi_client_free(client);

  chi_client *nobody = NULL;
  s = chi_attach(1, &nobody);
  printf("no runtime: %s: %s\n", chi_status_name(s), chi_last_error());
  return 0;
}
