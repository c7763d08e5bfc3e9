//! What a module can ask of the runtime it is loaded into.

use std::sync::OnceLock;

use crate::ModError;
use crate::abi::{AbiBytes, HostApi, OutBuf, Status};

static HOST: OnceLock<HostApi> = OnceLock::new();

/// Keeps the host's table (first call wins).
pub(crate) fn install(host: HostApi) -> bool {
    HOST.set(host).is_ok()
}

/// The host's table, once the module is initialised.
pub(crate) fn get() -> Option<&'static HostApi> {
    HOST.get()
}

/// Runs one of the runtime's admin operations (numbered as the methods in
/// [`crate::admin`]) on encoded input. Only the admin module needs this.
///
/// ```
/// // Outside a runtime there is no host to ask.
/// assert!(chimod_sdk::host::admin_call(chimod_sdk::admin::LIST_POOLS.id, &[]).is_err());
/// ```
pub fn admin_call(method: u32, input: &[u8]) -> Result<Vec<u8>, ModError> {
    let host = get().ok_or_else(|| ModError::new("not running inside a Chimaera runtime"))?;
    let mut out = Vec::new();
    // SAFETY: the host table came from the runtime at init and stays valid
    // while the module is loaded; input and out outlive the call.
    let status = unsafe { (host.admin)(host.ctx, method, AbiBytes::new(input), OutBuf::for_vec(&mut out)) };
    if status == Status::OK {
        Ok(out)
    } else {
        Err(ModError::new(String::from_utf8_lossy(&out).into_owned()))
    }
}
