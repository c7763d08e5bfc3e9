//! The glue between a [`ChiMod`] implementation and the C entry points of
//! the ABI. [`export_module!`](crate::export_module) instantiates it.
//!
//! Every entry point runs the module inside `catch_unwind`: a panic becomes
//! a [`Status::PANIC`] with its message and never unwinds into the host.

use std::any::Any;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::abi::{
    ABI_VERSION, AbiBytes, AbiPoolInfo, AbiStr, HostApi, LAYOUT_HASH, MAGIC, ModuleVTable, OutBuf,
    PluginHeader, SDK_VERSION, Status,
};
use crate::{ChiMod, PoolId, PoolInfo, PoolQuery, decode_params, logging};

/// One container: the module's value and the label its log lines carry.
struct Instance<M> {
    module: M,
    label: String,
}

/// The header a module exports.
pub const fn header(vtable: &'static ModuleVTable) -> PluginHeader {
    PluginHeader {
        magic: MAGIC,
        abi_version: ABI_VERSION,
        header_size: size_of::<PluginHeader>() as u32,
        layout_hash: LAYOUT_HASH,
        sdk_version: AbiStr::new(SDK_VERSION),
        vtable,
    }
}

/// The entry points for module type `M`.
pub const fn vtable<M: ChiMod>(name: &'static str, version: &'static str) -> ModuleVTable {
    ModuleVTable {
        name: AbiStr::new(name),
        version: AbiStr::new(version),
        init,
        create: create::<M>,
        call: call::<M>,
        stats: stats::<M>,
        flush: flush::<M>,
        destroy: destroy::<M>,
        hand_over: hand_over::<M>,
        take_over: take_over::<M>,
    }
}

unsafe extern "C" fn init(host: *const HostApi) {
    // SAFETY: the host passes a valid HostApi for the duration of this call;
    // it is Copy, so we keep our own copy.
    let host = unsafe { *host };
    let _ = catch_unwind(|| logging::install(host));
}

unsafe extern "C" fn create<M: ChiMod>(
    info: *const AbiPoolInfo,
    params: AbiStr,
    instance: *mut *mut c_void,
    out: OutBuf,
) -> Status {
    // SAFETY: the host passes a valid AbiPoolInfo and params string that
    // outlive this call (ABI contract of `create`).
    let (info, params) = unsafe { (pool_info(&*info), params.as_str()) };
    let label = info.to_string();
    guarded(out, || {
        logging::with_pool(&label, || {
            let params =
                decode_params::<M::Params>(params).map_err(|e| (Status::BAD_PARAMS, e.to_string()))?;
            let module = M::create(&info, params).map_err(|e| (Status::ERROR, e.to_string()))?;
            let boxed = Box::new(Instance { module, label: label.clone() });
            // SAFETY: `instance` is a valid out-pointer from the host.
            unsafe { *instance = Box::into_raw(boxed).cast() };
            Ok(Vec::new())
        })
    })
}

unsafe extern "C" fn take_over<M: ChiMod>(
    info: *const AbiPoolInfo,
    params: AbiStr,
    state: AbiBytes,
    instance: *mut *mut c_void,
    adopted: *mut u32,
    out: OutBuf,
) -> Status {
    // SAFETY: as in `create`; `state` is valid for this call too.
    let (info, params, state) = unsafe { (pool_info(&*info), params.as_str(), state.as_slice()) };
    let label = info.to_string();
    guarded(out, || {
        logging::with_pool(&label, || {
            let decode =
                || decode_params::<M::Params>(params).map_err(|e| (Status::BAD_PARAMS, e.to_string()));
            let (module, took) = match M::take_over(&info, decode()?, state) {
                Some(made) => (made.map_err(|e| (Status::ERROR, e.to_string()))?, 1),
                None => (M::create(&info, decode()?).map_err(|e| (Status::ERROR, e.to_string()))?, 0),
            };
            let boxed = Box::new(Instance { module, label: label.clone() });
            // SAFETY: `instance` and `adopted` are valid out-pointers from the host.
            unsafe {
                *instance = Box::into_raw(boxed).cast();
                *adopted = took;
            }
            Ok(Vec::new())
        })
    })
}

unsafe extern "C" fn hand_over<M: ChiMod>(instance: *const c_void, given: *mut u32, out: OutBuf) -> Status {
    // SAFETY: as in `call`; `given` is a valid out-pointer from the host.
    let instance = unsafe { &*instance.cast::<Instance<M>>() };
    guarded(out, || {
        let state = logging::with_pool(&instance.label, || instance.module.hand_over());
        // SAFETY: as above.
        unsafe { *given = u32::from(state.is_some()) };
        Ok(state.unwrap_or_default())
    })
}

unsafe extern "C" fn call<M: ChiMod>(
    instance: *const c_void,
    method: u32,
    input: AbiBytes,
    out: OutBuf,
) -> Status {
    // SAFETY: `instance` came from our `create` and is not yet destroyed;
    // `input` is valid for this call (ABI contract of `call`).
    let (instance, input) = unsafe { (&*instance.cast::<Instance<M>>(), input.as_slice()) };
    guarded(out, || {
        logging::with_pool(&instance.label, || {
            instance.module.call(method, input).map_err(|e| (Status::ERROR, e.to_string()))
        })
    })
}

unsafe extern "C" fn stats<M: ChiMod>(instance: *const c_void, out: OutBuf) -> Status {
    // SAFETY: as in `call`.
    let instance = unsafe { &*instance.cast::<Instance<M>>() };
    guarded(out, || {
        let value = logging::with_pool(&instance.label, || instance.module.stats());
        Ok(value.to_string().into_bytes())
    })
}

unsafe extern "C" fn flush<M: ChiMod>(instance: *const c_void, out: OutBuf) -> Status {
    // SAFETY: as in `call`.
    let instance = unsafe { &*instance.cast::<Instance<M>>() };
    guarded(out, || {
        logging::with_pool(&instance.label, || {
            instance.module.flush().map(|()| Vec::new()).map_err(|e| (Status::ERROR, e.to_string()))
        })
    })
}

unsafe extern "C" fn destroy<M: ChiMod>(instance: *mut c_void, out: OutBuf) -> Status {
    // SAFETY: `instance` came from our `create`; the host destroys it once.
    let instance = unsafe { Box::from_raw(instance.cast::<Instance<M>>()) };
    let Instance { module, label } = *instance;
    guarded(out, || {
        logging::with_pool(&label, || {
            module.destroy().map(|()| Vec::new()).map_err(|e| (Status::ERROR, e.to_string()))
        })
    })
}

/// Runs `f`, writes its output or error to `out`, and turns panics into
/// [`Status::PANIC`].
fn guarded(out: OutBuf, f: impl FnOnce() -> Result<Vec<u8>, (Status, String)>) -> Status {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(bytes)) => (Status::OK, bytes),
        Ok(Err((status, message))) => (status, message.into_bytes()),
        Err(panic) => (Status::PANIC, format!("module panicked: {}", panic_message(&*panic)).into_bytes()),
    };
    // SAFETY: `out` is the host's buffer for this call.
    unsafe { out.put(&bytes) };
    status
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Copies the host's description of a pool into owned values.
///
/// # Safety
/// The strings in `info` must be valid for this call.
unsafe fn pool_info(info: &AbiPoolInfo) -> PoolInfo {
    PoolInfo {
        pool_id: PoolId::new(info.pool_id.major, info.pool_id.minor),
        // SAFETY: forwarded from the caller.
        pool_name: unsafe { info.pool_name.as_str() }.to_owned(),
        // SAFETY: forwarded from the caller.
        mod_name: unsafe { info.mod_name.as_str() }.to_owned(),
        pool_query: PoolQuery::from_code(info.pool_query).unwrap_or_default(),
        node_id: info.node_id,
        container_id: info.container_id,
    }
}

/// Turns a [`ChiMod`] implementation into a loadable module: exports the
/// `chimod_plugin` symbol the runtime looks for. Use it once per `cdylib`,
/// with the crate built as `crate-type = ["cdylib"]` and named after the
/// module (`chimaera_custom_mod` → `libchimaera_custom_mod.so`).
///
/// ```
/// struct Nothing;
/// impl chimod_sdk::ChiMod for Nothing {
///     type Params = chimod_sdk::NoParams;
///     fn create(_: &chimod_sdk::PoolInfo, _: chimod_sdk::NoParams) -> Result<Self, chimod_sdk::ModError> {
///         Ok(Nothing)
///     }
/// }
/// chimod_sdk::export_module!(Nothing);
/// let header = unsafe { &*chimod_plugin() };
/// assert_eq!(header.abi_version, chimod_sdk::abi::ABI_VERSION);
/// ```
#[macro_export]
macro_rules! export_module {
    ($module:ty) => {
        /// The entry point the Chimaera runtime loads.
        #[unsafe(no_mangle)]
        pub extern "C" fn chimod_plugin() -> *const $crate::abi::PluginHeader {
            $crate::__private::set_module_name(env!("CARGO_PKG_NAME"));
            static VTABLE: $crate::abi::ModuleVTable =
                $crate::__private::vtable::<$module>(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
            static HEADER: $crate::abi::PluginHeader = $crate::__private::header(&VTABLE);
            &HEADER
        }
    };
}
