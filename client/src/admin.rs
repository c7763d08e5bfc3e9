//! The typed client of the admin pool: the pattern a module author copies
//! for a module of their own (one method per `Method` constant).

use std::time::Duration;

use chimod_sdk::admin::{
    CANCEL_PERIODIC, CLUSTER_POOLS, CREATE_POOL, CreateOutcome, CreatePool, DESTROY_POOL, FLUSH,
    LEAVE_CLUSTER, LIST_MODULES, LIST_POOLS, ModuleDescription, NodePools, NodeReload, PING, POOL_STATS,
    PoolDescription, PoolStats, RELOAD_HOSTFILE, RUNTIME_STATS, ReloadHostfile, RuntimeStats,
    SCHEDULE_PERIODIC, STOP_RUNTIME, SchedulePeriodic, StopRequest, UPGRADE_MODULE, UpgradeModule,
    UpgradeOutcome,
};
use chimod_sdk::{Method, PoolId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Client, ClientError};
use chimaera_config::ComposeEntry;

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
            forwarded: false,
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

    /// Every node's pools (this node's alone on a single node).
    pub fn cluster_pools(&self) -> Result<Vec<NodePools>, ClientError> {
        self.client.call_method(PoolId::ADMIN, CLUSTER_POOLS, &())
    }

    /// One pool's figures on this node.
    pub fn pool_stats(&self, id: PoolId) -> Result<PoolStats, ClientError> {
        self.client.call_method(PoolId::ADMIN, POOL_STATS, &id)
    }

    /// The modules this node has loaded.
    pub fn list_modules(&self) -> Result<Vec<ModuleDescription>, ClientError> {
        self.client.call_method(PoolId::ADMIN, LIST_MODULES, &())
    }

    /// Replaces module `mod_name`'s code with the library at `path` while its
    /// pools keep serving; each pool's running tasks may take `drain` to
    /// finish. Give the call a timeout longer than `drain` plus the
    /// containers' creation ([`Client::set_call_timeout`]). With
    /// `cluster`, every node upgrades in turn (one outcome per node).
    pub fn upgrade_module(
        &self,
        mod_name: &str,
        path: &str,
        drain: Duration,
        cluster: bool,
    ) -> Result<Vec<UpgradeOutcome>, ClientError> {
        let request = UpgradeModule {
            mod_name: mod_name.to_owned(),
            path: path.to_owned(),
            drain_timeout_ms: drain.as_millis() as u64,
            cluster,
        };
        self.client.call_method(PoolId::ADMIN, UPGRADE_MODULE, &request)
    }

    /// Asks the runtime to stop.
    pub fn stop_runtime(&self, requested_by: &str) -> Result<(), ClientError> {
        self.client.call_method(
            PoolId::ADMIN,
            STOP_RUNTIME,
            &StopRequest { requested_by: requested_by.to_owned() },
        )
    }

    /// Makes the node leave the cluster cleanly, then stop: the other
    /// nodes pass it by from then on, until it starts again.
    pub fn leave_cluster(&self, requested_by: &str) -> Result<(), ClientError> {
        self.client.call_method(
            PoolId::ADMIN,
            LEAVE_CLUSTER,
            &StopRequest { requested_by: requested_by.to_owned() },
        )
    }

    /// Has the node (with `cluster`, every node it knows) re-read its
    /// hostfile and take in the nodes added at its end.
    pub fn reload_hostfile(&self, cluster: bool) -> Result<Vec<NodeReload>, ClientError> {
        self.client.call_method(PoolId::ADMIN, RELOAD_HOSTFILE, &ReloadHostfile { cluster })
    }

    /// Runtime statistics.
    pub fn stats(&self) -> Result<RuntimeStats, ClientError> {
        self.client.call_method(PoolId::ADMIN, RUNTIME_STATS, &())
    }

    /// Flushes every pool.
    pub fn flush(&self) -> Result<u32, ClientError> {
        self.client.call_method(PoolId::ADMIN, FLUSH, &())
    }

    /// Runs `method` of `pool` on `input` every `period` from now on;
    /// returns the periodic task's id (see [`RuntimeStats::periodic`]).
    pub fn schedule_periodic<I: Serialize + DeserializeOwned, O: Serialize + DeserializeOwned>(
        &self,
        pool: PoolId,
        method: Method<I, O>,
        input: &I,
        period: Duration,
    ) -> Result<u64, ClientError> {
        let request = SchedulePeriodic {
            pool_id: pool,
            method: method.id,
            input: method.encode_input(input)?,
            period_ms: period.as_millis() as u64,
        };
        self.client.call_method(PoolId::ADMIN, SCHEDULE_PERIODIC, &request)
    }

    /// Cancels a periodic task.
    pub fn cancel_periodic(&self, id: u64) -> Result<(), ClientError> {
        self.client.call_method(PoolId::ADMIN, CANCEL_PERIODIC, &id)
    }

    /// A no-op round trip.
    pub fn ping(&self) -> Result<(), ClientError> {
        self.client.call_method(PoolId::ADMIN, PING, &())
    }
}
