//! One loaded, checked module and the calls into it.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use chimod_sdk::PoolInfo;
use chimod_sdk::abi::{
    ABI_VERSION, AbiBytes, AbiPoolInfo, AbiStr, LAYOUT_HASH, MAGIC, ModuleVTable, OutBuf, PLUGIN_SYMBOL,
    PluginHeader, SDK_VERSION, Status,
};

use super::ModuleError;
use super::host_api::{HostContext, host_api};

/// A module whose ABI matched; its code stays mapped for the process's life.
#[derive(Debug)]
pub struct LoadedModule {
    mod_name: String,
    path: PathBuf,
    version: String,
    vtable: &'static ModuleVTable,
}

/// Why a module's create handler failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// The module's parameters did not decode: `<key>: <what was wrong>`.
    #[error("{0}")]
    BadParams(String),
    /// The module refused.
    #[error("{0}")]
    Refused(String),
    /// The module panicked.
    #[error("{0}")]
    Panicked(String),
}

/// An error a module returned from a call (or a panic it caught).
pub type CallError = CreateError;

impl LoadedModule {
    /// Loads `path` as module `mod_name` and checks its ABI.
    pub fn load(mod_name: &str, path: &Path, host: HostContext) -> Result<LoadedModule, ModuleError> {
        // Loading a library runs its initialisers. Modules are code the
        // operator chose to run, as with any plugin system; a Rust cdylib has
        // no initialisers that could misbehave here.
        super::file_check::check_module_file(path)
            .map_err(|reason| ModuleError::BadFile { path: path.to_owned(), reason })?;
        // SAFETY: as above; the file was just checked to be a whole ELF
        // shared library, so mapping it touches no page past its end.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| ModuleError::Open { path: path.to_owned(), reason: with_sources(&e) })?;
        let not_a_module = |reason: String| ModuleError::NotAModule { path: path.to_owned(), reason };
        // SAFETY: the symbol's type is the one every module exports via
        // `export_module!`; a library exporting the name with another type
        // would be lying about being a module, which the magic check catches
        // for everything but deliberate forgery.
        let entry = unsafe { library.get::<extern "C" fn() -> *const PluginHeader>(PLUGIN_SYMBOL) }.map_err(
            |_| {
                not_a_module(
                    "it has no `chimod_plugin` symbol (was it built with chimod_sdk::export_module!?)".into(),
                )
            },
        )?;
        let header_ptr = entry();
        if header_ptr.is_null() {
            return Err(not_a_module("`chimod_plugin` returned no header".into()));
        }
        // SAFETY: the header's leading fields are frozen across all versions
        // and the module keeps it in a static; we read the version fields
        // before trusting anything else.
        let header = unsafe { &*header_ptr };
        if header.magic != MAGIC {
            return Err(not_a_module(format!("its header has magic {:#x}, not {MAGIC:#x}", header.magic)));
        }
        if header.abi_version != ABI_VERSION {
            return Err(ModuleError::Incompatible {
                path: path.to_owned(),
                // SAFETY: `sdk_version` is a frozen field pointing at a 'static str in the module.
                module_sdk: unsafe { header.sdk_version.as_str() }.to_owned(),
                module_abi: header.abi_version,
                host_sdk: SDK_VERSION,
                host_abi: ABI_VERSION,
            });
        }
        if header.layout_hash != LAYOUT_HASH {
            return Err(ModuleError::LayoutMismatch {
                path: path.to_owned(),
                abi: ABI_VERSION,
                module_hash: header.layout_hash,
                host_hash: LAYOUT_HASH,
                host_sdk: SDK_VERSION,
            });
        }
        // SAFETY: ABI and layout match, so the vtable has our layout; it is a
        // static of the module, which we never unload (see below).
        let vtable: &'static ModuleVTable = unsafe { &*header.vtable };
        let host = host_api(host);
        // SAFETY: `init` is the module's entry point with the checked ABI; it
        // copies the HostApi before returning.
        unsafe { (vtable.init)(&host) };
        // SAFETY: 'static strings of the module.
        let version = unsafe { vtable.version.as_str() }.to_owned();
        // Never unloaded: see the module docs.
        std::mem::forget(library);
        Ok(LoadedModule { mod_name: mod_name.to_owned(), path: path.to_owned(), version, vtable })
    }

    /// The name the module calls itself (its crate's name).
    pub fn exported_name(&self) -> &str {
        // SAFETY: a 'static string of the module, which is never unloaded.
        unsafe { self.vtable.name.as_str() }
    }

    /// The same module, reported as loaded from `path` (a live upgrade
    /// loads a private copy of the operator's file).
    pub fn reported_at(self, path: &Path) -> LoadedModule {
        LoadedModule { path: path.to_owned(), ..self }
    }

    /// The name it was loaded as.
    pub fn mod_name(&self) -> &str {
        &self.mod_name
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The module crate's own version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Runs the module's create handler for one container.
    pub fn create(&self, info: &PoolInfo, params_json: &str) -> Result<NonNull<c_void>, CreateError> {
        let abi_info = abi_pool_info(info);
        let mut instance: *mut c_void = std::ptr::null_mut();
        let mut out = Vec::new();
        // SAFETY: every pointer passed lives until the call returns; the
        // module writes the instance pointer or an error message.
        let status = unsafe {
            (self.vtable.create)(
                &abi_info,
                AbiStr::new(params_json),
                &mut instance,
                OutBuf::for_vec(&mut out),
            )
        };
        made(status, out, instance)
    }

    /// Runs the module's take-over handler: a container from the previous
    /// version's `state`, or from the parameters if the module takes no
    /// state; the flag says which.
    pub fn take_over(
        &self,
        info: &PoolInfo,
        params_json: &str,
        state: &[u8],
    ) -> Result<(NonNull<c_void>, bool), CreateError> {
        let abi_info = abi_pool_info(info);
        let mut instance: *mut c_void = std::ptr::null_mut();
        let mut adopted = 0u32;
        let mut out = Vec::new();
        // SAFETY: as in `create`; `state` and `adopted` live until the call returns.
        let status = unsafe {
            (self.vtable.take_over)(
                &abi_info,
                AbiStr::new(params_json),
                AbiBytes::new(state),
                &mut instance,
                &mut adopted,
                OutBuf::for_vec(&mut out),
            )
        };
        made(status, out, instance).map(|i| (i, adopted == 1))
    }

    /// The state a container hands to the next version, if it gives any.
    ///
    /// # Safety
    /// `instance` must come from this module's `create` and be alive.
    pub unsafe fn hand_over(&self, instance: NonNull<c_void>) -> Result<Option<Vec<u8>>, CallError> {
        let mut given = 0u32;
        let mut out = Vec::new();
        // SAFETY: forwarded from the caller; `given` lives until the call returns.
        let status =
            unsafe { (self.vtable.hand_over)(instance.as_ptr(), &mut given, OutBuf::for_vec(&mut out)) };
        status_result(status, out).map(|state| (given == 1).then_some(state))
    }

    /// Runs method `method` of a container.
    ///
    /// # Safety
    /// `instance` must come from this module's `create` and not be destroyed.
    pub unsafe fn call(
        &self,
        instance: NonNull<c_void>,
        method: u32,
        input: &[u8],
    ) -> Result<Vec<u8>, CallError> {
        let mut out = Vec::new();
        // SAFETY: the caller guarantees the instance; input and out live
        // until the call returns.
        let status = unsafe {
            (self.vtable.call)(instance.as_ptr(), method, AbiBytes::new(input), OutBuf::for_vec(&mut out))
        };
        status_result(status, out)
    }

    /// A container's statistics as JSON text.
    ///
    /// # Safety
    /// As for [`LoadedModule::call`].
    pub unsafe fn stats(&self, instance: NonNull<c_void>) -> Result<Vec<u8>, CallError> {
        let mut out = Vec::new();
        // SAFETY: as in `call`.
        let status = unsafe { (self.vtable.stats)(instance.as_ptr(), OutBuf::for_vec(&mut out)) };
        status_result(status, out)
    }

    /// Flushes a container.
    ///
    /// # Safety
    /// As for [`LoadedModule::call`].
    pub unsafe fn flush(&self, instance: NonNull<c_void>) -> Result<(), CallError> {
        let mut out = Vec::new();
        // SAFETY: as in `call`.
        let status = unsafe { (self.vtable.flush)(instance.as_ptr(), OutBuf::for_vec(&mut out)) };
        status_result(status, out).map(drop)
    }

    /// Destroys a container.
    ///
    /// # Safety
    /// `instance` must come from this module's `create`; it is dead after.
    pub unsafe fn destroy(&self, instance: NonNull<c_void>) -> Result<(), CallError> {
        let mut out = Vec::new();
        // SAFETY: forwarded from the caller; the module frees the instance.
        let status = unsafe { (self.vtable.destroy)(instance.as_ptr(), OutBuf::for_vec(&mut out)) };
        status_result(status, out).map(drop)
    }
}

fn abi_pool_info(info: &PoolInfo) -> AbiPoolInfo {
    AbiPoolInfo {
        pool_id: info.pool_id,
        pool_name: AbiStr::new(&info.pool_name),
        mod_name: AbiStr::new(&info.mod_name),
        pool_query: info.pool_query as u32,
        node_id: info.node_id,
        container_id: info.container_id,
    }
}

/// A create's result: the instance, or why there is none.
fn made(status: Status, out: Vec<u8>, instance: *mut c_void) -> Result<NonNull<c_void>, CreateError> {
    match (status_result(status, out), NonNull::new(instance)) {
        (Ok(_), Some(instance)) => Ok(instance),
        (Ok(_), None) => {
            Err(CreateError::Refused("create reported success but returned no container".into()))
        }
        (Err(e), _) => Err(e),
    }
}

fn status_result(status: Status, out: Vec<u8>) -> Result<Vec<u8>, CreateError> {
    let text = || String::from_utf8_lossy(&out).into_owned();
    match status {
        Status::OK => Ok(out),
        Status::BAD_PARAMS => Err(CreateError::BadParams(text())),
        Status::PANIC => Err(CreateError::Panicked(text())),
        Status::ERROR => Err(CreateError::Refused(text())),
        Status { code } => {
            Err(CreateError::Refused(format!("module returned unknown status {code}: {}", text())))
        }
    }
}

/// An error with every cause after it: libloading says only "dlopen
/// failed" and keeps the loader's reason (`dlerror`) in its source.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}
