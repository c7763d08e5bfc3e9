//! The binary interface between the runtime (host) and a module (plugin).
//!
//! Everything that crosses it is `#[repr(C)]` and defined here, once, for
//! both sides. A module exports one function, [`PLUGIN_SYMBOL`], returning a
//! [`PluginHeader`]. The header's layout is frozen forever, so any host can
//! read it from any module and compare, before it touches anything else:
//!
//! - `magic`: this is a Chimaera module at all;
//! - `abi_version`: [`ABI_VERSION`], bumped whenever any type here changes;
//! - `layout_hash`: [`LAYOUT_HASH`], a hash of the source text of every type
//!   below plus each type's size and alignment on this target, so a change
//!   someone forgot to version is caught too;
//! - `sdk_version`: the `chimod-sdk` version, named in the error.
//!
//! Only when all agree does the host follow `vtable`. Buffers never change
//! owner across the boundary: inputs are borrowed for one call, outputs are
//! written through a host callback ([`OutBuf`]), so the two sides may use
//! different allocators. Every entry point catches panics (see `export.rs`).

mod types;

pub use types::*;

/// The one symbol every module exports: `extern "C" fn() -> *const PluginHeader`.
///
/// ```
/// assert_eq!(chimod_sdk::abi::PLUGIN_SYMBOL, b"chimod_plugin\0");
/// ```
pub const PLUGIN_SYMBOL: &[u8] = b"chimod_plugin\0";

/// `PluginHeader::magic`: "CHIMOD" and two bytes of format number.
///
/// ```
/// assert_eq!(&chimod_sdk::abi::MAGIC.to_le_bytes()[..6], b"CHIMOD");
/// ```
pub const MAGIC: u64 = u64::from_le_bytes(*b"CHIMOD\x00\x01");

/// The ABI version of this SDK. A host loads only modules of its own version.
///
/// ```
/// assert!(chimod_sdk::abi::ABI_VERSION >= 1);
/// ```
pub const ABI_VERSION: u32 =
    if cfg!(feature = "testing-abi-mismatch") { 1 + BASE_ABI_VERSION } else { BASE_ABI_VERSION };

const BASE_ABI_VERSION: u32 = 3;

/// The version of the `chimod-sdk` crate, reported in mismatch errors.
///
/// ```
/// assert_eq!(chimod_sdk::abi::SDK_VERSION, env!("CARGO_PKG_VERSION"));
/// ```
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Hash of the definitions and layouts of every type that crosses the boundary.
///
/// ```
/// assert_ne!(chimod_sdk::abi::LAYOUT_HASH, 0);
/// ```
pub const LAYOUT_HASH: u64 = types::layout_hash();

/// FNV-1a, usable in `const` context.
pub(crate) const fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}
