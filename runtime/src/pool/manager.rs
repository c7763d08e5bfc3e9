//! Pools by id and by name: create, look up, destroy.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use chimod_sdk::{PoolId, PoolInfo, PoolQuery};

use super::{Container, Gate, PoolError};
use crate::config::ComposeEntry;
use crate::module::ModuleManager;

/// What a pool is created from: a compose entry, or an admin request.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    /// The module.
    pub mod_name: String,
    /// The pool's name.
    pub pool_name: String,
    /// Where it lives.
    pub pool_query: PoolQuery,
    /// Its id.
    pub pool_id: PoolId,
    /// The module's own keys, handed over verbatim.
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl From<&ComposeEntry> for PoolSpec {
    fn from(e: &ComposeEntry) -> Self {
        PoolSpec {
            mod_name: e.mod_name.clone(),
            pool_name: e.pool_name.clone(),
            pool_query: e.pool_query,
            pool_id: e.pool_id,
            params: e.params.clone(),
        }
    }
}

/// A created pool and this node's container of it.
#[derive(Debug)]
pub struct Pool {
    spec: PoolSpec,
    /// Owned (from `Box::into_raw`). Read only by whoever passed the gate;
    /// replaced only by a live upgrade while the gate is held and nobody is
    /// inside, so a reader never sees it freed (and the hot path pays for
    /// one plain load, no reference count).
    container: AtomicPtr<Container>,
    gate: Gate,
    /// Tasks of it that failed (an error or a panic).
    pub errors: AtomicU64,
}

impl Pool {
    /// What the pool was created from.
    pub fn spec(&self) -> &PoolSpec {
        &self.spec
    }

    /// The pool's id.
    pub fn id(&self) -> PoolId {
        self.spec.pool_id
    }

    /// Runs `f` on this node's container, through the pool's gate (so a
    /// live upgrade waits for it, and it waits for an upgrade); not counted
    /// as one of the pool's tasks.
    pub fn with_container<R>(&self, f: impl FnOnce(&Container) -> R) -> R {
        let _inside = self.gate.enter_uncounted();
        // SAFETY: the pointer is valid (owned by the pool) while a caller
        // is inside the gate; see the field.
        f(unsafe { &*self.container.load(Ordering::Acquire) })
    }

    /// Runs one of the container's methods, as one of the pool's tasks.
    pub fn call(&self, method: u32, input: &[u8]) -> Result<Vec<u8>, crate::module::CreateError> {
        let _inside = self.gate.enter();
        // SAFETY: as in `with_container`.
        unsafe { &*self.container.load(Ordering::Acquire) }.call(method, input)
    }

    /// Tasks its container ran on this node.
    pub fn tasks(&self) -> u64 {
        self.gate.passed()
    }

    /// The gate its tasks pass (held by a live module upgrade).
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// For a live upgrade, with the gate held and nobody inside: `f` on
    /// the current container (`None` in any other state).
    pub fn with_held_container<R>(&self, f: impl FnOnce(&Container) -> R) -> Option<R> {
        // SAFETY: held and empty: nobody else reads the pointer until the
        // gate opens, and only the upgrade holding it replaces it.
        self.gate.is_held_empty().then(|| f(unsafe { &*self.container.load(Ordering::Acquire) }))
    }

    /// For a live upgrade, with the gate held and nobody inside: puts `new`
    /// in place and destroys the old container; in any other state `new`
    /// is handed back.
    pub fn replace_held_container(&self, new: Container) -> Result<(), Container> {
        if !self.gate.is_held_empty() {
            return Err(new);
        }
        let old = self.container.swap(Box::into_raw(Box::new(new)), Ordering::AcqRel);
        // SAFETY: came from `Box::into_raw`; nobody can reach it now.
        drop(unsafe { Box::from_raw(old) });
        Ok(())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: the last owner; the pointer came from `Box::into_raw`.
        drop(unsafe { Box::from_raw(*self.container.get_mut()) });
    }
}

#[derive(Debug, Default)]
struct Pools {
    by_id: BTreeMap<PoolId, Arc<Pool>>,
    by_name: HashMap<String, PoolId>,
    /// Creation order, so pools are destroyed newest first.
    order: Vec<PoolId>,
}

impl Pools {
    fn check_free(&self, spec: &PoolSpec) -> Result<(), PoolError> {
        if let Some(existing) = self.by_id.get(&spec.pool_id) {
            return Err(PoolError::DuplicateId {
                id: spec.pool_id,
                existing_name: existing.spec.pool_name.clone(),
                existing_mod: existing.spec.mod_name.clone(),
            });
        }
        if let Some(id) = self.by_name.get(&spec.pool_name) {
            return Err(PoolError::DuplicateName {
                name: spec.pool_name.clone(),
                existing_id: *id,
                existing_mod: self.by_id[id].spec.mod_name.clone(),
            });
        }
        Ok(())
    }
}

/// Every pool of this node.
#[derive(Debug)]
pub struct PoolManager {
    node_id: u32,
    pools: RwLock<Pools>,
}

impl PoolManager {
    /// No pools yet, on node `node_id`.
    pub fn new(node_id: u32) -> Self {
        PoolManager { node_id, pools: RwLock::new(Pools::default()) }
    }

    /// Creates a pool with a container of `spec.mod_name`. Nothing changes
    /// on failure: the other pools are untouched.
    pub fn create(&self, spec: PoolSpec, modules: &ModuleManager) -> Result<Arc<Pool>, PoolError> {
        let _no_upgrade = modules.creating();
        self.read().check_free(&spec)?;
        let module = modules.load(&spec.mod_name)?;
        let params = serde_json::to_string(&spec.params).map_err(|e| PoolError::Params(e.to_string()))?;
        let info = PoolInfo {
            pool_id: spec.pool_id,
            pool_name: spec.pool_name.clone(),
            mod_name: spec.mod_name.clone(),
            pool_query: spec.pool_query,
            node_id: self.node_id,
            container_id: 0,
        };
        // The module runs without the lock held: creating a device may take
        // a while, and lookups of other pools must not wait for it.
        let container = Container::create(module, info, &params)?;
        let mut pools = self.write();
        // Another creation may have taken the id or name meanwhile; the new
        // container is then dropped (destroyed) and the error returned.
        pools.check_free(&spec)?;
        let pool = Arc::new(Pool {
            spec,
            container: AtomicPtr::new(Box::into_raw(Box::new(container))),
            gate: Gate::default(),
            errors: AtomicU64::new(0),
        });
        pools.by_name.insert(pool.spec.pool_name.clone(), pool.id());
        pools.by_id.insert(pool.id(), pool.clone());
        pools.order.push(pool.id());
        Ok(pool)
    }

    /// The pool with this id.
    pub fn get(&self, id: PoolId) -> Option<Arc<Pool>> {
        self.read().by_id.get(&id).cloned()
    }

    /// The pool with this name.
    pub fn by_name(&self, name: &str) -> Option<Arc<Pool>> {
        let pools = self.read();
        pools.by_name.get(name).and_then(|id| pools.by_id.get(id)).cloned()
    }

    /// Every pool, by id.
    pub fn list(&self) -> Vec<Arc<Pool>> {
        self.read().by_id.values().cloned().collect()
    }

    /// Removes a pool; its container is destroyed once the last user lets go.
    pub fn destroy(&self, id: PoolId) -> Option<Arc<Pool>> {
        let mut pools = self.write();
        let pool = pools.by_id.remove(&id)?;
        pools.by_name.remove(&pool.spec.pool_name);
        pools.order.retain(|p| *p != id);
        Some(pool)
    }

    /// Destroys every pool, newest first (so a pool outlives the pools
    /// created after it, which may depend on it).
    pub fn destroy_all(&self) {
        let order = std::mem::take(&mut self.write().order);
        for id in order.into_iter().rev() {
            drop(self.destroy(id));
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Pools> {
        self.pools.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Pools> {
        self.pools.write().unwrap_or_else(PoisonError::into_inner)
    }
}
