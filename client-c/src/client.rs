//! Attaching to a runtime, and the admin pool's calls: ping, pools, stats.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chimod_sdk::PoolQuery;
use rust_client::Client;
use rust_client::config::ComposeEntry;

use crate::args::{chi_pool_id, handle, optional_text, put, text, timeout};
use crate::buffer::{chi_buffer, give};
use crate::status::{Failure, chi_status, guard};

/// A client attached to one runtime. Any thread may use it; free it with
/// `chi_client_free` once its tasks and bulk buffers are freed or waited.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct chi_client {
    pub(crate) inner: Arc<Client>,
}

/// How long attaching waits for a runtime that is starting.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses a NULL out-pointer before anything is attached for it.
fn require_out(out: *mut *mut chi_client) -> Result<(), Failure> {
    if out.is_null() { Err(Failure::invalid("out is NULL")) } else { Ok(()) }
}

fn hand_out(client: Client, out: *mut *mut chi_client) -> Result<(), Failure> {
    let handle = Box::into_raw(Box::new(chi_client { inner: Arc::new(client) }));
    // SAFETY: `out` is writable, as the exported callers' contracts say.
    unsafe { put(out, handle, "out") }.inspect_err(|_| {
        // SAFETY: just made by `Box::into_raw` and not handed out.
        drop(unsafe { Box::from_raw(handle) });
    })
}

/// Attaches to this user's runtime on `port` (0: the port its
/// configuration names, as `chi_attach_config(NULL, out)`), waiting up to
/// 10 s for one that is starting.
///
/// # Safety
/// `out` is writable for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_attach(port: u16, out: *mut *mut chi_client) -> chi_status {
    guard(|| {
        require_out(out)?;
        let client = if port == 0 {
            Client::attach_from_env(None)?
        } else {
            Client::attach_port(port, READY_TIMEOUT)?
        };
        hand_out(client, out)
    })
}

/// Attaches to the runtime a configuration file names (its
/// `networking.port`). `path` NULL: the file `CHI_SERVER_CONF` or
/// `WRP_RUNTIME_CONF` names, else the built-in defaults.
///
/// # Safety
/// `path` is null or a NUL-terminated string; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_attach_config(
    path: *const std::ffi::c_char,
    out: *mut *mut chi_client,
) -> chi_status {
    guard(|| {
        require_out(out)?;
        // SAFETY: as the caller promised.
        let path = unsafe { optional_text(path, "path") }?;
        hand_out(Client::attach_from_env(path.map(Path::new))?, out)
    })
}

/// Connects over TCP to the runtime at `addr` (`"host:port"`, the port
/// being its `networking.client_port`; NULL: `CHI_SERVER_ADDR`), proving
/// the cluster key in `key_file` (NULL: `CHI_CLUSTER_KEY_FILE`, else none)
/// when the runtime asks for one. For hosts that share no `/dev/shm` with
/// the runtime; the calls are the same, and bulk data travels in them.
///
/// # Safety
/// `addr` and `key_file` are null or NUL-terminated strings; `out` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_attach_remote(
    addr: *const std::ffi::c_char,
    key_file: *const std::ffi::c_char,
    out: *mut *mut chi_client,
) -> chi_status {
    guard(|| {
        require_out(out)?;
        // SAFETY: as the caller promised.
        let (addr, key_file) =
            unsafe { (optional_text(addr, "addr")?, optional_text(key_file, "key_file")?) };
        let from_env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        let addr = match addr {
            Some(addr) => addr.to_owned(),
            None => from_env(rust_client::SERVER_ADDR_ENV)
                .ok_or_else(|| Failure::invalid("addr is NULL and CHI_SERVER_ADDR is not set"))?,
        };
        let key_file = key_file.map(str::to_owned).or_else(|| from_env(rust_client::config::CLUSTER_KEY_ENV));
        hand_out(Client::connect_with_key_file(addr.trim(), key_file.as_deref().map(Path::new))?, out)
    })
}

/// Frees a client (NULL is ignored). Tasks and bulk buffers still held
/// keep what they need of it alive.
///
/// # Safety
/// `client` is null or a client from `chi_attach*`, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_client_free(client: *mut chi_client) {
    if !client.is_null() {
        // SAFETY: made by `Box::into_raw` in `hand_out`, freed once.
        drop(unsafe { Box::from_raw(client) });
    }
}

/// Bounds every later `chi_call` (and the admin and bdev calls) of this
/// client to `timeout_ms` in all; `CHI_WAIT_FOREVER` (the default) waits
/// as long as the task runs and still notices a runtime that dies.
///
/// # Safety
/// `client` is a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_set_call_timeout(client: *const chi_client, timeout_ms: i64) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        unsafe { handle(client, "client") }?.inner.set_call_timeout(timeout(timeout_ms));
        Ok(())
    })
}

/// The admin pool's ping: `CHI_OK` when the runtime answers.
///
/// # Safety
/// `client` is a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_ping(client: *const chi_client) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        Ok(unsafe { handle(client, "client") }?.inner.admin().ping()?)
    })
}

/// Creates a pool of module `mod_name` named `pool_name` with id `pool_id`.
/// `pool_query`: "local" (NULL), "dynamic" or "broadcast". `params_json`:
/// the module's keys as a JSON object (NULL: none), as a compose entry
/// would give them. Creating the same pool again succeeds.
///
/// # Safety
/// `client` is a live client; the strings are null or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_create_pool(
    client: *const chi_client,
    mod_name: *const std::ffi::c_char,
    pool_name: *const std::ffi::c_char,
    pool_id: chi_pool_id,
    pool_query: *const std::ffi::c_char,
    params_json: *const std::ffi::c_char,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised, for each argument.
        let (client, mod_name, pool_name, query, params) = unsafe {
            (
                handle(client, "client")?,
                text(mod_name, "mod_name")?,
                text(pool_name, "pool_name")?,
                optional_text(pool_query, "pool_query")?,
                optional_text(params_json, "params_json")?,
            )
        };
        let query: PoolQuery = match query {
            Some(q) => q.parse().map_err(|e| Failure::invalid(format!("pool_query: {e}")))?,
            None => PoolQuery::Local,
        };
        let mut entry = ComposeEntry::new(mod_name, pool_name, pool_id.into()).with_query(query);
        if let Some(json) = params {
            entry.params = serde_json::from_str(json)
                .map_err(|e| Failure::invalid(format!("params_json is not a JSON object: {e}")))?;
        }
        entry.check().map_err(|(key, why)| Failure::invalid(format!("{key}: {why}")))?;
        client.inner.admin().create_pool(&entry)?;
        Ok(())
    })
}

/// Destroys pool `pool_id`.
///
/// # Safety
/// `client` is a live client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_destroy_pool(client: *const chi_client, pool_id: chi_pool_id) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        Ok(unsafe { handle(client, "client") }?.inner.admin().destroy_pool(pool_id.into())?)
    })
}

/// The pools on this node as a JSON array of objects (`pool_id` as
/// "major.minor", `pool_name`, `mod_name`, `pool_query`, `params_json`).
///
/// # Safety
/// `client` is a live client; `out` is writable (free it with `chi_buffer_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_list_pools_json(client: *const chi_client, out: *mut chi_buffer) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let pools = unsafe { handle(client, "client") }?.inner.admin().list_pools()?;
        let json = serde_json::to_vec(&pools).map_err(|e| Failure::invalid(e.to_string()))?;
        // SAFETY: as the caller promised.
        unsafe { give(out, json) }
    })
}

/// The runtime's statistics (workers, task slots, bulk heaps) as a JSON
/// object.
///
/// # Safety
/// `client` is a live client; `out` is writable (free it with `chi_buffer_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_stats_json(client: *const chi_client, out: *mut chi_buffer) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let stats = unsafe { handle(client, "client") }?.inner.admin().stats()?;
        let json = serde_json::to_vec(&stats).map_err(|e| Failure::invalid(e.to_string()))?;
        // SAFETY: as the caller promised.
        unsafe { give(out, json) }
    })
}
