//! The C API of the Chimaera client: `libchimaera_client.so` and
//! `libchimaera_client.a`, declared by `include/chimaera.h` (generated from
//! these files by cbindgen; `tests/header.rs` keeps the two equal).
//!
//! Every function is prefixed `chi_`. Handles (`chi_client`, `chi_task`,
//! `chi_bulk`) are opaque boxes freed by their own `chi_*_free`. Failures
//! are a `chi_status` plus a message from `chi_last_error()`, kept per
//! thread; no Rust panic crosses the boundary (`status::guard`).

mod args;
mod buffer;
mod bulk;
mod client;
mod status;
mod task;

pub use args::{CHI_ADMIN_PING, CHI_WAIT_FOREVER, chi_pool_id};
pub use buffer::{chi_buffer, chi_buffer_free};
pub use bulk::{
    chi_bdev_allocate, chi_bdev_free, chi_bdev_read, chi_bdev_read_at, chi_bdev_write, chi_bdev_write_at,
    chi_block, chi_bulk, chi_bulk_alloc, chi_bulk_data, chi_bulk_free, chi_bulk_len,
};
pub use client::{
    chi_attach, chi_attach_config, chi_client, chi_client_free, chi_create_pool, chi_destroy_pool,
    chi_list_pools_json, chi_ping, chi_set_call_timeout, chi_stats_json,
};
pub use status::{chi_last_error, chi_status, chi_status_name};
pub use task::{
    chi_call, chi_fire_and_forget, chi_submit, chi_task, chi_task_free, chi_task_is_done, chi_task_wait,
};
