//! The typed client of the admin pool: the pattern a module author copies
//! for a module of their own (one method per `Method` constant).

use chimod_sdk::PoolId;
use chimod_sdk::admin::{
    CREATE_POOL, CreateOutcome, CreatePool, DESTROY_POOL, FLUSH, LIST_POOLS, PING, PoolDescription,
    RUNTIME_STATS, RuntimeStats, STOP_RUNTIME, StopRequest,
};

use super::{Client, ClientError};
use crate::config::ComposeEntry;

/// Admin operations of this node's runtime.
#[derive(Debug, Clone, Copy)]
pub struct AdminClient<'c> {
    client: &'c Client,
}

impl<'c> AdminClient<'c> {
    /// The admin client over `client`.
    pub fn new(client: &'c Client) -> Self {
        AdminClient { client }
    }

    /// Creates the pool a compose entry describes (or finds it already there).
    pub fn create_pool(&self, entry: &ComposeEntry) -> Result<CreateOutcome, ClientError> {
        let request = CreatePool {
            mod_name: entry.mod_name.clone(),
            pool_name: entry.pool_name.clone(),
            pool_query: entry.pool_query,
            pool_id: entry.pool_id,
            params_json: serde_json::Value::Object(entry.params.clone()).to_string(),
        };
        self.client.call_method(PoolId::ADMIN, CREATE_POOL, &request)
    }

    /// Destroys a pool.
    pub fn destroy_pool(&self, id: PoolId) -> Result<(), ClientError> {
        self.client.call_method(PoolId::ADMIN, DESTROY_POOL, &id)
    }

    /// Lists the pools.
    pub fn list_pools(&self) -> Result<Vec<PoolDescription>, ClientError> {
        self.client.call_method(PoolId::ADMIN, LIST_POOLS, &())
    }

    /// Asks the runtime to stop.
    pub fn stop_runtime(&self, requested_by: &str) -> Result<(), ClientError> {
        self.client.call_method(
            PoolId::ADMIN,
            STOP_RUNTIME,
            &StopRequest { requested_by: requested_by.to_owned() },
        )
    }

    /// Runtime statistics.
    pub fn stats(&self) -> Result<RuntimeStats, ClientError> {
        self.client.call_method(PoolId::ADMIN, RUNTIME_STATS, &())
    }

    /// Flushes every pool.
    pub fn flush(&self) -> Result<u32, ClientError> {
        self.client.call_method(PoolId::ADMIN, FLUSH, &())
    }

    /// A no-op round trip.
    pub fn ping(&self) -> Result<(), ClientError> {
        self.client.call_method(PoolId::ADMIN, PING, &())
    }
}
