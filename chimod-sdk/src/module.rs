//! The trait a module implements, and what it is told about its pool.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{ModError, PoolId, PoolQuery, codec};

/// A Chimaera module: one implementation, exported with
/// [`export_module!`](crate::export_module), gives a loadable `.so`.
///
/// The runtime creates one value of the type per pool container (one per
/// node the pool lives on) and calls its methods from several worker threads
/// at once, hence `Sync`: keep mutable state behind atomics or locks.
///
/// A minimal module:
///
/// ```
/// use chimod_sdk::{ChiMod, ModError, PoolInfo};
///
/// #[derive(serde::Deserialize)]
/// struct Params { greeting: String }
///
/// struct Hello { greeting: String }
///
/// impl ChiMod for Hello {
///     type Params = Params;
///     fn create(_pool: &PoolInfo, params: Params) -> Result<Self, ModError> {
///         Ok(Hello { greeting: params.greeting })
///     }
/// }
///
/// chimod_sdk::export_module!(Hello);
/// ```
pub trait ChiMod: Sized + Send + Sync + 'static {
    /// The module's own compose keys, decoded with serde. Use
    /// [`NoParams`](crate::NoParams) for none and `#[serde(default)]` for
    /// optional keys.
    type Params: DeserializeOwned;

    /// Creates this node's container of a pool. An error (or panic) fails
    /// that pool's creation with the message; the runtime keeps serving.
    fn create(pool: &PoolInfo, params: Self::Params) -> Result<Self, ModError>;

    /// Runs method `method` (numbered from [`methods::FIRST_MODULE_METHOD`])
    /// on encoded input and returns encoded output. [`Method::handle`] does
    /// the decoding and encoding. The default knows no methods.
    fn call(&self, method: u32, input: &[u8]) -> Result<Vec<u8>, ModError> {
        let _ = input;
        Err(ModError::new(format!("unknown method {method}")))
    }

    /// Statistics for monitoring, as JSON. The default reports nothing.
    fn stats(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Makes the container's data durable (admin `flush`, and before
    /// destroy). The default does nothing.
    fn flush(&self) -> Result<(), ModError> {
        Ok(())
    }

    /// Called when the pool is destroyed or the runtime stops, before the
    /// value is dropped: flush here. The default does nothing.
    fn destroy(self) -> Result<(), ModError> {
        Ok(())
    }

    /// A live module upgrade asks the running container for the state the
    /// next version should start from, once no task runs in it: bytes in a
    /// format both versions agree on (the container keeps serving if the
    /// upgrade fails later, so it must not give its state away). The
    /// default hands over nothing, and the new version is created from the
    /// pool's parameters.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use chimod_sdk::{ChiMod, ModError, NoParams, PoolInfo};
    /// struct Counter(AtomicU64);
    /// impl ChiMod for Counter {
    ///     type Params = NoParams;
    ///     fn create(_: &PoolInfo, _: NoParams) -> Result<Self, ModError> {
    ///         Ok(Counter(AtomicU64::new(0)))
    ///     }
    ///     fn hand_over(&self) -> Option<Vec<u8>> {
    ///         Some(self.0.load(Ordering::Relaxed).to_le_bytes().to_vec())
    ///     }
    ///     fn take_over(_: &PoolInfo, _: NoParams, state: &[u8]) -> Option<Result<Self, ModError>> {
    ///         let n = u64::from_le_bytes(state.try_into().ok()?);
    ///         Some(Ok(Counter(AtomicU64::new(n))))
    ///     }
    /// }
    /// let old = Counter(AtomicU64::new(7));
    /// let state = old.hand_over().unwrap();
    /// let pool = PoolInfo {
    ///     pool_id: chimod_sdk::PoolId::new(400, 0),
    ///     pool_name: "counter".into(),
    ///     mod_name: "counter_mod".into(),
    ///     pool_query: chimod_sdk::PoolQuery::Local,
    ///     node_id: 0,
    ///     container_id: 0,
    /// };
    /// let new = Counter::take_over(&pool, NoParams::default(), &state).unwrap().unwrap();
    /// assert_eq!(new.0.load(Ordering::Relaxed), 7);
    /// ```
    fn hand_over(&self) -> Option<Vec<u8>> {
        None
    }

    /// A live module upgrade creates the new version's container from the
    /// old one's [`ChiMod::hand_over`] bytes: `None` (the default, or state
    /// this version cannot read) means "create from the parameters"
    /// ([`ChiMod::create`]); `Some(Err(..))` fails the upgrade, and the old
    /// version keeps serving. See [`ChiMod::hand_over`] for an example.
    fn take_over(pool: &PoolInfo, params: Self::Params, state: &[u8]) -> Option<Result<Self, ModError>> {
        let _ = (pool, params, state);
        None
    }
}

/// Method numbers. Lifecycle methods are the same for every module; a
/// module numbers its own from [`FIRST_MODULE_METHOD`].
pub mod methods {
    /// Create a pool's container.
    pub const CREATE: u32 = 0;
    /// Destroy a pool's container.
    pub const DESTROY: u32 = 1;
    /// Report statistics.
    pub const STATS: u32 = 2;
    /// The first number a module may give its own methods.
    pub const FIRST_MODULE_METHOD: u32 = 10;
}

/// The pool a container belongs to, as the runtime describes it at creation.
///
/// ```
/// use chimod_sdk::{PoolId, PoolInfo, PoolQuery};
/// let info = PoolInfo {
///     pool_id: PoolId::new(400, 0),
///     pool_name: "my_custom_pool".into(),
///     mod_name: "chimaera_custom_mod".into(),
///     pool_query: PoolQuery::Dynamic,
///     node_id: 0,
///     container_id: 0,
/// };
/// assert_eq!(info.to_string(), "my_custom_pool (400.0)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInfo {
    /// The pool's id.
    pub pool_id: PoolId,
    /// The pool's name; for a file-backed device, the file path.
    pub pool_name: String,
    /// The module name the pool was created with.
    pub mod_name: String,
    /// Where the pool was created.
    pub pool_query: PoolQuery,
    /// This node's id (0 on a single node).
    pub node_id: u32,
    /// This container's index in the pool.
    pub container_id: u32,
}

impl fmt::Display for PoolInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.pool_name, self.pool_id)
    }
}

/// A numbered method with typed input and output, shared by a module and its
/// clients so both agree on the number and the types.
///
/// ```
/// use chimod_sdk::{Method, methods::FIRST_MODULE_METHOD};
/// const ECHO: Method<String, String> = Method::new(FIRST_MODULE_METHOD);
/// let input = ECHO.encode_input(&"hi".to_string()).unwrap();
/// let output = ECHO.handle(&input, |s| Ok(s.to_uppercase())).unwrap();
/// assert_eq!(ECHO.decode_output(&output).unwrap(), "HI");
/// ```
pub struct Method<In, Out> {
    /// The method number.
    pub id: u32,
    _types: PhantomData<fn(In) -> Out>,
}

impl<In, Out> Method<In, Out> {
    /// The method numbered `id`.
    ///
    /// ```
    /// const M: chimod_sdk::Method<(), u64> = chimod_sdk::Method::new(11);
    /// assert_eq!(M.id, 11);
    /// ```
    pub const fn new(id: u32) -> Self {
        Method { id, _types: PhantomData }
    }
}

impl<In: Serialize + DeserializeOwned, Out: Serialize + DeserializeOwned> Method<In, Out> {
    /// Module side: decodes the input, runs `f`, encodes its output.
    ///
    /// ```
    /// const ADD: chimod_sdk::Method<(u32, u32), u32> = chimod_sdk::Method::new(10);
    /// let out = ADD.handle(&ADD.encode_input(&(2, 3)).unwrap(), |(a, b)| Ok(a + b)).unwrap();
    /// assert_eq!(ADD.decode_output(&out).unwrap(), 5);
    /// ```
    pub fn handle(
        &self,
        input: &[u8],
        f: impl FnOnce(In) -> Result<Out, ModError>,
    ) -> Result<Vec<u8>, ModError> {
        let input = codec::decode(input)?;
        Ok(codec::encode(&f(input)?)?)
    }

    /// Client side: encodes a request.
    ///
    /// ```
    /// const M: chimod_sdk::Method<u8, u8> = chimod_sdk::Method::new(10);
    /// assert_eq!(M.encode_input(&7).unwrap(), [7]);
    /// ```
    pub fn encode_input(&self, input: &In) -> Result<Vec<u8>, codec::CodecError> {
        codec::encode(input)
    }

    /// Client side: decodes a reply.
    ///
    /// ```
    /// const M: chimod_sdk::Method<u8, u8> = chimod_sdk::Method::new(10);
    /// assert_eq!(M.decode_output(&[9]).unwrap(), 9);
    /// ```
    pub fn decode_output(&self, output: &[u8]) -> Result<Out, codec::CodecError> {
        codec::decode(output)
    }
}

impl<In, Out> Clone for Method<In, Out> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<In, Out> Copy for Method<In, Out> {}

impl<In, Out> fmt::Debug for Method<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Method({})", self.id)
    }
}
