/*
 * chimaera.h: the C API of the Chimaera client (libchimaera_client).
 *
 * Every function is prefixed chi_. Handles are opaque and freed with their
 * own chi_*_free. A function that can fail returns a chi_status: CHI_OK, or
 * a code whose message chi_last_error() returns on the same thread. See
 * docs/client_guide.md.
 */

#ifndef CHIMAERA_H
#define CHIMAERA_H

/* Generated from client-c/src by cbindgen (client-c/cbindgen.toml); do not edit. */

#include <stddef.h>
#include <stdint.h>

// Waits without a limit (a timeout argument in milliseconds).
#define CHI_WAIT_FOREVER -1

// The admin pool's ping method (pool 1.0, no input, no output): the
// cheapest round trip, for checks and latency figures.
#define CHI_ADMIN_PING 16

// What a call returned: `CHI_OK`, or why it failed (the message is
// `chi_last_error()`).
typedef enum chi_status {
  // Success.
  CHI_OK = 0,
  // No runtime is running for that port (or address).
  CHI_ERR_NO_RUNTIME = 1,
  // A runtime is starting and did not become ready in time.
  CHI_ERR_NOT_READY = 2,
  // The configuration file could not be loaded.
  CHI_ERR_CONFIG = 3,
  // The runtime attached to died or was restarted: attach again.
  CHI_ERR_RUNTIME_GONE = 4,
  // The runtime is stopping.
  CHI_ERR_STOPPING = 5,
  // No room in the task queue within the submit timeout.
  CHI_ERR_QUEUE_FULL = 6,
  // The task did not finish within the timeout; it is still in flight.
  CHI_ERR_TIMEOUT = 7,
  // No pool of that id.
  CHI_ERR_POOL_NOT_FOUND = 8,
  // The module returned an error or panicked.
  CHI_ERR_TASK_FAILED = 9,
  // The runtime's shared memory is not open to this user.
  CHI_ERR_PERMISSION = 10,
  // The shared memory is not a compatible runtime's.
  CHI_ERR_SHARED_MEMORY = 11,
  // Input or output did not encode or decode.
  CHI_ERR_CODEC = 12,
  // A bulk buffer could not be allocated, found or freed.
  CHI_ERR_BULK = 13,
  // An argument was wrong (a null pointer, text that is not UTF-8, a
  // pool id or query that does not parse, an output taken twice).
  CHI_ERR_INVALID_ARGUMENT = 14,
  // A bug in this library (it was caught; the client is still usable).
  CHI_ERR_INTERNAL = 15,
} chi_status;

// A buffer in the runtime's shared memory (`client_data`), zeroed when
// allocated. Fill it, then pass it to a bdev write; a bdev read fills it.
// Do not change it while a task that uses it is in flight.
typedef struct chi_bulk chi_bulk;

// A client attached to one runtime. Any thread may use it; free it with
// `chi_client_free` once its tasks and bulk buffers are freed or waited.
typedef struct chi_client chi_client;

// A submitted task. Wait for it with `chi_task_wait`, then free it with
// `chi_task_free`; freeing it unwaited abandons it (the runtime frees it
// when it is done). It keeps its client alive.
typedef struct chi_task chi_task;

// Bytes owned by this library; free with `chi_buffer_free`. `data` is
// NUL-terminated (one byte past `len`), so JSON can be printed as is.
typedef struct chi_buffer {
  // The bytes (never NULL for a buffer this library filled).
  uint8_t *data;
  // How many, not counting the terminating NUL.
  size_t len;
} chi_buffer;

// A pool id: the two numbers of `"major.minor"`.
typedef struct chi_pool_id {
  // The first number (a module family by convention).
  uint32_t major;
  // The second number (an instance within the family).
  uint32_t minor;
} chi_pool_id;

// A block of a bdev pool: its place on the device and its size.
typedef struct chi_block {
  // Byte offset on the device.
  uint64_t offset;
  // Bytes.
  uint64_t size;
} chi_block;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// Frees a buffer this library filled and empties it. A NULL `buffer`, or
// one already freed (data NULL), is left alone.
//
// # Safety
// `buffer` is null or a `chi_buffer` this library filled.
void chi_buffer_free(struct chi_buffer *buffer);

// Allocates a `len`-byte bulk buffer.
//
// # Safety
// `client` is a live client; `out` is writable for a pointer.
enum chi_status chi_bulk_alloc(const struct chi_client *client, size_t len, struct chi_bulk **out);

// The buffer's bytes (NULL for a NULL buffer).
//
// # Safety
// `bulk` is null or a live buffer; the bytes live as long as it does.
uint8_t *chi_bulk_data(struct chi_bulk *bulk);

// The buffer's length in bytes (0 for a NULL buffer).
//
// # Safety
// `bulk` is null or a live buffer.
size_t chi_bulk_len(const struct chi_bulk *bulk);

// Frees a bulk buffer (NULL is ignored).
//
// # Safety
// `bulk` is null or a buffer from `chi_bulk_alloc`, not used after this
// and not in use by a task in flight.
void chi_bulk_free(struct chi_bulk *bulk);

// Allocates blocks for `size` bytes on bdev pool `pool_id`: up to
// `max_blocks` are stored at `blocks`, and `*count` says how many the
// device gave (more than `max_blocks` is `CHI_ERR_INVALID_ARGUMENT`, and
// the blocks are freed again).
//
// # Safety
// `client` is a live client; `blocks` is writable for `max_blocks`
// blocks; `count` is writable.
enum chi_status chi_bdev_allocate(const struct chi_client *client,
                                  struct chi_pool_id pool_id,
                                  uint64_t size,
                                  struct chi_block *blocks,
                                  size_t max_blocks,
                                  size_t *count);

// Frees `count` blocks of bdev pool `pool_id`.
//
// # Safety
// `client` is a live client; `blocks` has `count` readable blocks.
enum chi_status chi_bdev_free(const struct chi_client *client,
                              struct chi_pool_id pool_id,
                              const struct chi_block *blocks,
                              size_t count);

// Writes all of `data` into `block` of bdev pool `pool_id` at `offset`
// bytes from the block's start; `*written` is the bytes written.
//
// # Safety
// `client` and `data` are live; `written` is null or writable.
enum chi_status chi_bdev_write(const struct chi_client *client,
                               struct chi_pool_id pool_id,
                               struct chi_block block,
                               uint64_t offset,
                               const struct chi_bulk *data,
                               uint64_t *written);

// Reads `chi_bulk_len(into)` bytes of `block` of bdev pool `pool_id` from
// `offset` into `into`; `*read` is the bytes read.
//
// # Safety
// `client` and `into` are live, and no other thread uses `into` during the
// call; `read` is null or writable.
enum chi_status chi_bdev_read(const struct chi_client *client,
                              struct chi_pool_id pool_id,
                              struct chi_block block,
                              uint64_t offset,
                              struct chi_bulk *into,
                              uint64_t *read);

// Writes all of `data` at byte `offset` of bdev pool `pool_id`'s device
// itself, outside its block allocator; `*written` is the bytes written.
//
// # Safety
// `client` and `data` are live; `written` is null or writable.
enum chi_status chi_bdev_write_at(const struct chi_client *client,
                                  struct chi_pool_id pool_id,
                                  uint64_t offset,
                                  const struct chi_bulk *data,
                                  uint64_t *written);

// Fills `into` from byte `offset` of bdev pool `pool_id`'s device itself;
// `*read` is the bytes read.
//
// # Safety
// `client` and `into` are live, and no other thread uses `into` during the
// call; `read` is null or writable.
enum chi_status chi_bdev_read_at(const struct chi_client *client,
                                 struct chi_pool_id pool_id,
                                 uint64_t offset,
                                 struct chi_bulk *into,
                                 uint64_t *read);

// Attaches to this user's runtime on `port` (0: the port its
// configuration names, as `chi_attach_config(NULL, out)`), waiting up to
// 10 s for one that is starting.
//
// # Safety
// `out` is writable for a pointer.
enum chi_status chi_attach(uint16_t port, struct chi_client **out);

// Attaches to the runtime a configuration file names (its
// `networking.port`). `path` NULL: the file `CHI_SERVER_CONF` or
// `WRP_RUNTIME_CONF` names, else the built-in defaults.
//
// # Safety
// `path` is null or a NUL-terminated string; `out` is writable.
enum chi_status chi_attach_config(const char *path, struct chi_client **out);

// Connects over TCP to the runtime at `addr` (`"host:port"`, the port
// being its `networking.client_port`; NULL: `CHI_SERVER_ADDR`), proving
// the cluster key in `key_file` (NULL: `CHI_CLUSTER_KEY_FILE`, else none)
// when the runtime asks for one. For hosts that share no `/dev/shm` with
// the runtime; the calls are the same, and bulk data travels in them.
//
// # Safety
// `addr` and `key_file` are null or NUL-terminated strings; `out` is
// writable.
enum chi_status chi_attach_remote(const char *addr, const char *key_file, struct chi_client **out);

// Frees a client (NULL is ignored). Tasks and bulk buffers still held
// keep what they need of it alive.
//
// # Safety
// `client` is null or a client from `chi_attach*`, not used after this.
void chi_client_free(struct chi_client *client);

// Bounds every later `chi_call` (and the admin and bdev calls) of this
// client to `timeout_ms` in all; `CHI_WAIT_FOREVER` (the default) waits
// as long as the task runs and still notices a runtime that dies.
//
// # Safety
// `client` is a live client.
enum chi_status chi_set_call_timeout(const struct chi_client *client, int64_t timeout_ms);

// The admin pool's ping: `CHI_OK` when the runtime answers.
//
// # Safety
// `client` is a live client.
enum chi_status chi_ping(const struct chi_client *client);

// Creates a pool of module `mod_name` named `pool_name` with id `pool_id`.
// `pool_query`: "local" (NULL), "dynamic" or "broadcast". `params_json`:
// the module's keys as a JSON object (NULL: none), as a compose entry
// would give them. Creating the same pool again succeeds.
//
// # Safety
// `client` is a live client; the strings are null or NUL-terminated.
enum chi_status chi_create_pool(const struct chi_client *client,
                                const char *mod_name,
                                const char *pool_name,
                                struct chi_pool_id pool_id,
                                const char *pool_query,
                                const char *params_json);

// Destroys pool `pool_id`.
//
// # Safety
// `client` is a live client.
enum chi_status chi_destroy_pool(const struct chi_client *client, struct chi_pool_id pool_id);

// The pools on this node as a JSON array of objects (`pool_id` as
// "major.minor", `pool_name`, `mod_name`, `pool_query`, `params_json`).
//
// # Safety
// `client` is a live client; `out` is writable (free it with `chi_buffer_free`).
enum chi_status chi_list_pools_json(const struct chi_client *client, struct chi_buffer *out);

// The runtime's statistics (workers, task slots, bulk heaps) as a JSON
// object.
//
// # Safety
// `client` is a live client; `out` is writable (free it with `chi_buffer_free`).
enum chi_status chi_stats_json(const struct chi_client *client, struct chi_buffer *out);

// The message of the last call that failed on this thread ("" if none
// has). Valid until the next failing call on this thread.
const char *chi_last_error(void);

// The name of a status code ("CHI_ERR_TIMEOUT"), a static string.
const char *chi_status_name(int32_t status);

// Runs method `method` of pool `pool_id` on `input_len` bytes of input and
// waits for its output (bounded by `chi_set_call_timeout`).
//
// # Safety
// `client` is a live client; `input` has `input_len` readable bytes (or
// `input_len` is 0); `out` is writable (free it with `chi_buffer_free`).
enum chi_status chi_call(const struct chi_client *client,
                         struct chi_pool_id pool_id,
                         uint32_t method,
                         const uint8_t *input,
                         size_t input_len,
                         struct chi_buffer *out);

// Submits method `method` of pool `pool_id`; `*out` is the task to wait for.
//
// # Safety
// As for `chi_call`; `out` is writable for a pointer.
enum chi_status chi_submit(const struct chi_client *client,
                           struct chi_pool_id pool_id,
                           uint32_t method,
                           const uint8_t *input,
                           size_t input_len,
                           struct chi_task **out);

// Submits method `method` of pool `pool_id` and does not wait: the runtime
// frees the task when it is done, and its output is dropped.
//
// # Safety
// As for `chi_call`.
enum chi_status chi_fire_and_forget(const struct chi_client *client,
                                    struct chi_pool_id pool_id,
                                    uint32_t method,
                                    const uint8_t *input,
                                    size_t input_len);

// Waits up to `timeout_ms` (`CHI_WAIT_FOREVER`: no limit) for a task's
// output. `CHI_ERR_TIMEOUT` leaves the task in flight, to wait for again.
//
// # Safety
// `task` is a live task no other thread uses during the call; `out` is
// writable (free it with `chi_buffer_free`).
enum chi_status chi_task_wait(struct chi_task *task, int64_t timeout_ms, struct chi_buffer *out);

// 1 when the task's output is ready (`chi_task_wait` returns at once), else 0.
//
// # Safety
// `task` is null (0) or a live task.
int32_t chi_task_is_done(const struct chi_task *task);

// Frees a task (NULL is ignored); one not waited for is abandoned.
//
// # Safety
// `task` is null or a task from `chi_submit`, not used after this.
void chi_task_free(struct chi_task *task);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* CHIMAERA_H */
