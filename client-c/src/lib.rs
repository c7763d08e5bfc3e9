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
    chi_attach, chi_attach_config, chi_attach_remote, chi_client, chi_client_free, chi_create_pool,
    chi_destroy_pool, chi_list_pools_json, chi_ping, chi_set_call_timeout, chi_stats_json,
};
pub use status::{chi_last_error, chi_status, chi_status_name};
pub use task::{
    chi_call, chi_fire_and_forget, chi_submit, chi_task, chi_task_free, chi_task_is_done, chi_task_wait,
};

#[cfg(test)]
mod tests {
    //! Every entry point given NULL handles and NULL out-pointers: a status
    //! and a message naming the argument, never a crash.

    use std::ffi::CStr;
    use std::ptr::{null, null_mut};

    use super::*;

    fn last() -> String {
        // SAFETY: chi_last_error returns a NUL-terminated string.
        unsafe { CStr::from_ptr(chi_last_error()) }.to_string_lossy().into_owned()
    }

    fn refused(status: chi_status, names: &str) {
        assert_eq!(status, chi_status::ChiErrInvalidArgument);
        assert!(last().contains(names), "`{}` names {names}", last());
    }

    #[test]
    fn null_arguments_are_refused_by_name() {
        let id = chi_pool_id { major: 1, minor: 0 };
        let block = chi_block { offset: 0, size: 4096 };
        // SAFETY: every pointer is NULL, which each function must refuse.
        unsafe {
            refused(chi_attach(5555, null_mut()), "out");
            refused(chi_attach_config(null(), null_mut()), "out");
            refused(chi_attach_remote(null(), null(), null_mut()), "out");
            refused(chi_ping(null()), "client");
            refused(chi_set_call_timeout(null(), 5), "client");
            refused(chi_create_pool(null(), null(), null(), id, null(), null()), "client");
            refused(chi_destroy_pool(null(), id), "client");
            refused(chi_list_pools_json(null(), null_mut()), "client");
            refused(chi_stats_json(null(), null_mut()), "client");
            refused(chi_call(null(), id, 16, null(), 0, null_mut()), "client");
            refused(chi_call(null(), id, 16, null(), 5, null_mut()), "client");
            refused(chi_submit(null(), id, 16, null(), 0, null_mut()), "client");
            refused(chi_fire_and_forget(null(), id, 16, null(), 0), "client");
            refused(chi_task_wait(null_mut(), 0, null_mut()), "task");
            refused(chi_bulk_alloc(null(), 16, null_mut()), "client");
            refused(chi_bdev_allocate(null(), id, 16, null_mut(), 0, null_mut()), "client");
            refused(chi_bdev_free(null(), id, null(), 0), "client");
            refused(chi_bdev_write(null(), id, block, 0, null(), null_mut()), "client");
            refused(chi_bdev_read(null(), id, block, 0, null_mut(), null_mut()), "client");
            refused(chi_bdev_write_at(null(), id, 0, null(), null_mut()), "client");
            refused(chi_bdev_read_at(null(), id, 0, null_mut(), null_mut()), "client");
            assert_eq!(chi_task_is_done(null()), 0);
            assert!(chi_bulk_data(null_mut()).is_null());
            assert_eq!(chi_bulk_len(null()), 0);
            chi_client_free(null_mut());
            chi_task_free(null_mut());
            chi_bulk_free(null_mut());
            chi_buffer_free(null_mut());
            let mut empty = chi_buffer { data: null_mut(), len: 0 };
            chi_buffer_free(&mut empty);
        }
    }

    #[test]
    fn every_status_has_its_header_name() {
        for code in 0..=15 {
            // SAFETY: a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(chi_status_name(code)) }.to_string_lossy().into_owned();
            assert!(name.starts_with("CHI_"), "{code}: {name}");
        }
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(chi_status_name(99)) }.to_str().unwrap(), "(not a chi_status)");
        let header = include_str!("../include/chimaera.h");
        for code in 0..=15 {
            // SAFETY: as above.
            let name = unsafe { CStr::from_ptr(chi_status_name(code)) }.to_string_lossy().into_owned();
            assert!(header.contains(&format!("{name} = {code},")), "{name} = {code} in chimaera.h");
        }
    }
}
