//! The `#[repr(C)]` types of the boundary. `abi_types!` records the source
//! text of every definition, which feeds [`super::LAYOUT_HASH`].

use std::ffi::c_void;

use crate::PoolId;

macro_rules! abi_types {
    ($($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* })+) => {
        $($(#[$meta])* pub struct $name { $($body)* })+

        const DEFINITIONS: &str = concat!($(stringify!($name { $($body)* }),)+);

        pub(super) const fn layout_hash() -> u64 {
            let mut hash = super::fnv1a(0xcbf2_9ce4_8422_2325, DEFINITIONS.as_bytes());
            $(
                hash = super::fnv1a(hash, &(std::mem::size_of::<$name>() as u64).to_le_bytes());
                hash = super::fnv1a(hash, &(std::mem::align_of::<$name>() as u64).to_le_bytes());
            )+
            hash = super::fnv1a(hash, &(std::mem::size_of::<PoolId>() as u64).to_le_bytes());
            hash
        }
    };
}

abi_types! {
    /// What [`super::PLUGIN_SYMBOL`] returns. Frozen: fields are never
    /// changed or reordered, so any host can read any module's header.
    ///
    /// ```
    /// # struct M;
    /// # impl chimod_sdk::ChiMod for M {
    /// #     type Params = chimod_sdk::NoParams;
    /// #     fn create(_: &chimod_sdk::PoolInfo, _: chimod_sdk::NoParams) -> Result<Self, chimod_sdk::ModError> { Ok(M) }
    /// # }
    /// chimod_sdk::export_module!(M);
    /// let header = unsafe { &*chimod_plugin() };
    /// assert_eq!(header.magic, chimod_sdk::abi::MAGIC);
    /// assert_eq!(header.layout_hash, chimod_sdk::abi::LAYOUT_HASH);
    /// ```
    #[repr(C)]
    #[derive(Debug)]
    pub struct PluginHeader {
        /// [`super::MAGIC`].
        pub magic: u64,
        /// The module's [`super::ABI_VERSION`].
        pub abi_version: u32,
        /// `size_of::<PluginHeader>()` as the module sees it.
        pub header_size: u32,
        /// The module's [`super::LAYOUT_HASH`].
        pub layout_hash: u64,
        /// The module's `chimod-sdk` version.
        pub sdk_version: AbiStr,
        /// The entry points; follow only after the checks above pass.
        pub vtable: *const ModuleVTable,
    }

    /// A module's entry points. All are `unsafe extern "C"`; every one
    /// catches panics and reports them through its status.
    ///
    /// ```
    /// # struct M;
    /// # impl chimod_sdk::ChiMod for M {
    /// #     type Params = chimod_sdk::NoParams;
    /// #     fn create(_: &chimod_sdk::PoolInfo, _: chimod_sdk::NoParams) -> Result<Self, chimod_sdk::ModError> { Ok(M) }
    /// # }
    /// chimod_sdk::export_module!(M);
    /// let vtable = unsafe { &*(*chimod_plugin()).vtable };
    /// assert!(!unsafe { vtable.name.as_str() }.is_empty());
    /// ```
    #[repr(C)]
    #[derive(Debug)]
    pub struct ModuleVTable {
        /// The module's declared name (its crate's `mod_name`).
        pub name: AbiStr,
        /// The module's own version.
        pub version: AbiStr,
        /// Called once after loading, before anything else.
        pub init: unsafe extern "C" fn(host: *const HostApi),
        /// Creates a pool's container from JSON parameters. On success
        /// writes the instance pointer; on failure writes the message to `out`.
        pub create: unsafe extern "C" fn(info: *const AbiPoolInfo, params: AbiStr, instance: *mut *mut c_void, out: OutBuf) -> Status,
        /// Runs method `method` of a container on `input`; writes the output to `out`.
        pub call: unsafe extern "C" fn(instance: *const c_void, method: u32, input: AbiBytes, out: OutBuf) -> Status,
        /// Writes the container's statistics as JSON to `out`.
        pub stats: unsafe extern "C" fn(instance: *const c_void, out: OutBuf) -> Status,
        /// Makes a container's data durable.
        pub flush: unsafe extern "C" fn(instance: *const c_void, out: OutBuf) -> Status,
        /// Destroys a container; the instance pointer is dead afterwards.
        pub destroy: unsafe extern "C" fn(instance: *mut c_void, out: OutBuf) -> Status,
        /// A live upgrade: writes the state a container hands to the next
        /// version to `out` and sets `*given` to 1, or sets it to 0.
        pub hand_over: unsafe extern "C" fn(instance: *const c_void, given: *mut u32, out: OutBuf) -> Status,
        /// A live upgrade: creates a container from the previous version's
        /// `state` (`*adopted` = 1) or, when the module takes no state, from
        /// `params` as `create` does (`*adopted` = 0).
        pub take_over: unsafe extern "C" fn(info: *const AbiPoolInfo, params: AbiStr, state: AbiBytes, instance: *mut *mut c_void, adopted: *mut u32, out: OutBuf) -> Status,
    }

    /// What the host offers a module, handed over once at `init`.
    ///
    /// ```
    /// use chimod_sdk::abi::{AbiBulk, AbiBytes, AbiStr, AbiSubtask, HostApi, OutBuf, Status};
    /// unsafe extern "C" fn log(_: u32, _: AbiStr, _: AbiStr, _: AbiStr, _: AbiStr) {}
    /// unsafe extern "C" fn admin(_: *const std::ffi::c_void, _: u32, _: AbiBytes, _: OutBuf) -> Status { Status::ERROR }
    /// unsafe extern "C" fn submit(_: *const std::ffi::c_void, _: *const AbiSubtask, _: *mut u64, _: OutBuf) -> Status { Status::ERROR }
    /// unsafe extern "C" fn wait(_: *const std::ffi::c_void, _: u64, _: OutBuf) -> Status { Status::ERROR }
    /// unsafe extern "C" fn forget(_: *const std::ffi::c_void, _: u64) {}
    /// unsafe extern "C" fn bulk_map(_: *const std::ffi::c_void, _: *const AbiBulk, _: *mut *mut u8, _: OutBuf) -> Status { Status::ERROR }
    /// unsafe extern "C" fn bulk_alloc(_: *const std::ffi::c_void, _: u64, _: *mut AbiBulk, _: OutBuf) -> Status { Status::ERROR }
    /// unsafe extern "C" fn bulk_free(_: *const std::ffi::c_void, _: *const AbiBulk, _: OutBuf) -> Status { Status::ERROR }
    /// unsafe extern "C" fn yield_now(_: *const std::ffi::c_void) {}
    /// let host = HostApi { max_level: 3, log, ctx: std::ptr::null(), admin, submit, wait, forget, bulk_map, bulk_alloc, bulk_free, yield_now };
    /// assert_eq!(host.max_level, chimod_sdk::abi::LogLevelCode::INFO);
    /// ```
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct HostApi {
        /// The most verbose level the host records (see [`LogLevelCode`]).
        pub max_level: u32,
        /// Records one log line from the module.
        pub log: unsafe extern "C" fn(level: u32, module: AbiStr, pool: AbiStr, target: AbiStr, message: AbiStr),
        /// The runtime's own state, passed back to `admin`.
        pub ctx: *const c_void,
        /// Runs an admin operation (see `chimod_sdk::admin`) on encoded input.
        pub admin: unsafe extern "C" fn(ctx: *const c_void, method: u32, input: AbiBytes, out: OutBuf) -> Status,
        /// Submits a subtask. On success writes its handle to `handle`;
        /// on failure writes the message to `out`.
        pub submit: unsafe extern "C" fn(ctx: *const c_void, task: *const AbiSubtask, handle: *mut u64, out: OutBuf) -> Status,
        /// Waits for a subtask and consumes its handle: the calling task is
        /// suspended, its worker runs other tasks meanwhile. Writes the
        /// subtask's output, or its error message, to `out`.
        pub wait: unsafe extern "C" fn(ctx: *const c_void, handle: u64, out: OutBuf) -> Status,
        /// Consumes a subtask's handle without waiting; the subtask still runs.
        pub forget: unsafe extern "C" fn(ctx: *const c_void, handle: u64),
        /// Checks that `bulk` is a live block of a data segment and writes
        /// its address to `ptr`; on failure writes the message to `out`.
        pub bulk_map: unsafe extern "C" fn(ctx: *const c_void, bulk: *const AbiBulk, ptr: *mut *mut u8, out: OutBuf) -> Status,
        /// Allocates `len` bytes in `runtime_data` for the client of the
        /// running task and writes the block to `bulk`.
        pub bulk_alloc: unsafe extern "C" fn(ctx: *const c_void, len: u64, bulk: *mut AbiBulk, out: OutBuf) -> Status,
        /// Frees a block of `runtime_data`.
        pub bulk_free: unsafe extern "C" fn(ctx: *const c_void, bulk: *const AbiBulk, out: OutBuf) -> Status,
        /// Lets the worker run other tasks and resumes the calling task on
        /// its next round: how a task polls for something (an I/O
        /// completion) without blocking its worker.
        pub yield_now: unsafe extern "C" fn(ctx: *const c_void),
    }

    /// A [`crate::bulk::Bulk`] as it crosses the boundary.
    ///
    /// ```
    /// use chimod_sdk::abi::AbiBulk;
    /// use chimod_sdk::bulk::{Bulk, BulkSegment};
    /// let b = Bulk { segment: BulkSegment::ClientData, offset: 4096, len: 10 };
    /// assert_eq!(AbiBulk::from(b).to_bulk(), Some(b));
    /// ```
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default)]
    pub struct AbiBulk {
        /// `BulkSegment::code`.
        pub segment: u32,
        /// Reserved, 0.
        pub reserved: u32,
        /// Byte offset from the segment's start.
        pub offset: u64,
        /// Length in bytes.
        pub len: u64,
    }

    /// A task a module sends to a pool (its own or another module's) while
    /// it runs a task.
    ///
    /// ```
    /// use chimod_sdk::abi::{AbiBytes, AbiSubtask};
    /// let t = AbiSubtask { pool_id: chimod_sdk::PoolId::ADMIN, method: 16, flags: 0, input: AbiBytes::new(&[]), route: [0; 3] };
    /// assert_eq!(t.flags & AbiSubtask::LONG, 0);
    /// ```
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct AbiSubtask {
        /// Target pool.
        pub pool_id: PoolId,
        /// Method number.
        pub method: u32,
        /// `AbiSubtask::LONG`, or 0.
        pub flags: u32,
        /// Encoded input, borrowed for the `submit` call.
        pub input: AbiBytes,
        /// Where it runs: `Route::encode`'s code and two arguments.
        pub route: [u32; 3],
    }

    /// The identity of the pool (and this node's container of it) being created.
    ///
    /// ```
    /// use chimod_sdk::abi::{AbiPoolInfo, AbiStr};
    /// let info = AbiPoolInfo {
    ///     pool_id: chimod_sdk::PoolId::new(300, 0),
    ///     pool_name: AbiStr::new("ram_cache"),
    ///     mod_name: AbiStr::new("chimaera_bdev"),
    ///     pool_query: chimod_sdk::PoolQuery::Local as u32,
    ///     node_id: 0,
    ///     container_id: 0,
    /// };
    /// assert_eq!(unsafe { info.pool_name.as_str() }, "ram_cache");
    /// ```
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct AbiPoolInfo {
        /// The pool's id.
        pub pool_id: PoolId,
        /// The pool's name.
        pub pool_name: AbiStr,
        /// The module name the pool was created with.
        pub mod_name: AbiStr,
        /// `PoolQuery` as its `u32` discriminant.
        pub pool_query: u32,
        /// This node's id in the cluster (0 on a single node).
        pub node_id: u32,
        /// This container's index within the pool.
        pub container_id: u32,
    }

    /// A borrowed UTF-8 string, valid for the duration of one call
    /// (or `'static` where a field says so).
    ///
    /// ```
    /// let s = chimod_sdk::abi::AbiStr::new("x");
    /// assert_eq!(s.len, 1);
    /// ```
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct AbiStr {
        /// First byte.
        pub ptr: *const u8,
        /// Length in bytes.
        pub len: usize,
    }

    /// Borrowed bytes, valid for the duration of one call.
    ///
    /// ```
    /// let b = chimod_sdk::abi::AbiBytes::new(b"abc");
    /// assert_eq!(b.len, 3);
    /// ```
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct AbiBytes {
        /// First byte.
        pub ptr: *const u8,
        /// Length in bytes.
        pub len: usize,
    }

    /// Where a module writes a call's output: the host's buffer and the host
    /// function that appends to it.
    ///
    /// ```
    /// let mut v = Vec::new();
    /// unsafe { chimod_sdk::abi::OutBuf::for_vec(&mut v).put(b"out") };
    /// assert_eq!(v, b"out");
    /// ```
    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct OutBuf {
        /// The host's buffer, opaque to the module.
        pub target: *mut c_void,
        /// Appends `len` bytes at `data` to `target`.
        pub write: unsafe extern "C" fn(target: *mut c_void, data: *const u8, len: usize),
    }

    /// The outcome of an entry point. A plain integer, not a Rust enum, so
    /// an unexpected value from a foreign module is not undefined behaviour.
    ///
    /// ```
    /// use chimod_sdk::abi::Status;
    /// assert_ne!(Status::OK, Status::PANIC);
    /// ```
    #[repr(C)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Status {
        /// One of the `Status` constants.
        pub code: u32,
    }
}

impl From<crate::bulk::Bulk> for AbiBulk {
    fn from(b: crate::bulk::Bulk) -> AbiBulk {
        AbiBulk { segment: b.segment.code(), reserved: 0, offset: b.offset, len: b.len }
    }
}

impl AbiBulk {
    /// The [`crate::bulk::Bulk`] this describes, if its segment is known.
    pub fn to_bulk(&self) -> Option<crate::bulk::Bulk> {
        let segment = crate::bulk::BulkSegment::from_code(self.segment)?;
        Some(crate::bulk::Bulk { segment, offset: self.offset, len: self.len })
    }
}

impl AbiSubtask {
    /// Flag: the subtask is long (an estimated 50 µs or more) and runs on a
    /// slow worker.
    pub const LONG: u32 = 1;
}

impl Status {
    /// Success; `out` holds the output.
    pub const OK: Status = Status { code: 0 };
    /// The module reported an error; `out` holds its message.
    pub const ERROR: Status = Status { code: 1 };
    /// The module panicked; `out` holds the panic message.
    pub const PANIC: Status = Status { code: 2 };
    /// The parameters did not decode; `out` holds `<key>: <what was wrong>`.
    pub const BAD_PARAMS: Status = Status { code: 3 };
    /// The target pool does not exist; `out` holds the message.
    pub const NO_POOL: Status = Status { code: 4 };
    /// The runtime is stopping; the task did not run.
    pub const STOPPING: Status = Status { code: 5 };
}

/// Log levels as `HostApi::log` numbers them.
///
/// ```
/// use chimod_sdk::abi::LogLevelCode;
/// assert!(LogLevelCode::ERROR < LogLevelCode::TRACE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogLevelCode;

impl LogLevelCode {
    /// Errors.
    pub const ERROR: u32 = 1;
    /// Warnings.
    pub const WARN: u32 = 2;
    /// Information.
    pub const INFO: u32 = 3;
    /// Debugging.
    pub const DEBUG: u32 = 4;
    /// Tracing.
    pub const TRACE: u32 = 5;

    /// The code of a `tracing` level: the one mapping both sides of the
    /// boundary use.
    ///
    /// ```
    /// use chimod_sdk::abi::LogLevelCode;
    /// assert_eq!(LogLevelCode::of(&tracing::Level::WARN), LogLevelCode::WARN);
    /// ```
    pub fn of(level: &tracing::Level) -> u32 {
        match *level {
            tracing::Level::ERROR => Self::ERROR,
            tracing::Level::WARN => Self::WARN,
            tracing::Level::INFO => Self::INFO,
            tracing::Level::DEBUG => Self::DEBUG,
            tracing::Level::TRACE => Self::TRACE,
        }
    }
}

impl AbiStr {
    /// Borrows `s` for as long as the `AbiStr` is used.
    ///
    /// ```
    /// let s = chimod_sdk::abi::AbiStr::new("pool");
    /// assert_eq!(unsafe { s.as_str() }, "pool");
    /// ```
    pub const fn new(s: &str) -> AbiStr {
        AbiStr { ptr: s.as_ptr(), len: s.len() }
    }

    /// The string.
    ///
    /// # Safety
    /// `ptr` and `len` must describe live UTF-8 for the returned lifetime,
    /// as the side that made this `AbiStr` promises.
    pub unsafe fn as_str<'a>(&self) -> &'a str {
        if self.len == 0 {
            return "";
        }
        // SAFETY: the caller guarantees ptr/len describe live, valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr, self.len)) }
    }
}

impl AbiBytes {
    /// Borrows `b` for as long as the `AbiBytes` is used.
    ///
    /// ```
    /// let b = chimod_sdk::abi::AbiBytes::new(&[1, 2]);
    /// assert_eq!(unsafe { b.as_slice() }, &[1, 2]);
    /// ```
    pub const fn new(b: &[u8]) -> AbiBytes {
        AbiBytes { ptr: b.as_ptr(), len: b.len() }
    }

    /// The bytes.
    ///
    /// # Safety
    /// `ptr` and `len` must describe live memory for the returned lifetime.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees ptr/len describe live memory.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl OutBuf {
    /// An `OutBuf` that appends to `vec`, which must outlive every use.
    ///
    /// ```
    /// let mut v = Vec::new();
    /// let out = chimod_sdk::abi::OutBuf::for_vec(&mut v);
    /// unsafe { out.put(b"hi") };
    /// assert_eq!(v, b"hi");
    /// ```
    pub fn for_vec(vec: &mut Vec<u8>) -> OutBuf {
        unsafe extern "C" fn append(target: *mut c_void, data: *const u8, len: usize) {
            // SAFETY: `target` is the `&mut Vec<u8>` given to `for_vec`, alive
            // for the call (the host holds it), and data/len come from a slice.
            unsafe {
                let vec = &mut *target.cast::<Vec<u8>>();
                vec.extend_from_slice(std::slice::from_raw_parts(data, len));
            }
        }
        OutBuf { target: (vec as *mut Vec<u8>).cast(), write: append }
    }

    /// Appends `bytes` to the host's buffer.
    ///
    /// # Safety
    /// The buffer this `OutBuf` was made for must still be alive.
    pub unsafe fn put(&self, bytes: &[u8]) {
        // SAFETY: forwarded from the caller; the callback copies `bytes` now.
        unsafe { (self.write)(self.target, bytes.as_ptr(), bytes.len()) }
    }
}

// SAFETY: the header and vtable are immutable statics of the module: their
// pointers lead to 'static strings and functions, safe to share.
unsafe impl Sync for PluginHeader {}
// SAFETY: as above.
unsafe impl Sync for ModuleVTable {}

// SAFETY: `ctx` is the runtime's shared state, which the runtime keeps alive
// and synchronises itself; the rest are plain numbers and functions.
unsafe impl Send for HostApi {}
// SAFETY: as above.
unsafe impl Sync for HostApi {}
