//! Loads each module once and hands out shared references to it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};
use std::time::Instant;

use tracing::info;

use super::{HostContext, LoadedModule, ModuleError, ModuleSearchPath};

/// The modules loaded so far, by name.
#[derive(Debug)]
pub struct ModuleManager {
    search: ModuleSearchPath,
    host: HostContext,
    loaded: Mutex<HashMap<String, Arc<LoadedModule>>>,
    /// Per module, the versions live upgrades replaced, oldest first.
    replaced: Mutex<HashMap<String, Vec<String>>>,
    /// Pool creations hold it shared, a live upgrade exclusively, so no
    /// pool is created from a version an upgrade is replacing (it would
    /// keep the old version after the upgrade).
    changing: RwLock<()>,
}

impl ModuleManager {
    /// A manager that finds modules on `search`, with no runtime behind
    /// them (admin operations fail).
    pub fn new(search: ModuleSearchPath) -> Self {
        Self::with_host_context(search, HostContext::NONE)
    }

    /// A manager whose modules' admin calls act on `host`.
    pub fn with_host_context(search: ModuleSearchPath, host: HostContext) -> Self {
        ModuleManager {
            search,
            host,
            loaded: Mutex::new(HashMap::new()),
            replaced: Mutex::new(HashMap::new()),
            changing: RwLock::new(()),
        }
    }

    /// The search path.
    pub fn search_path(&self) -> &ModuleSearchPath {
        &self.search
    }

    /// The module `mod_name`, loading it on first use.
    pub fn load(&self, mod_name: &str) -> Result<Arc<LoadedModule>, ModuleError> {
        // Loading under the lock keeps a module from being loaded twice by
        // concurrent pool creations; loads are rare and take a millisecond.
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(module) = loaded.get(mod_name) {
            return Ok(module.clone());
        }
        let path = self.search.find(mod_name)?;
        let started = Instant::now();
        let module = Arc::new(LoadedModule::load(mod_name, &path, self.host)?);
        info!(
            module = mod_name,
            version = module.version(),
            path = %path.display(),
            micros = started.elapsed().as_micros() as u64,
            "module loaded"
        );
        loaded.insert(mod_name.to_owned(), module.clone());
        Ok(module)
    }

    /// The modules loaded so far, by name.
    pub fn loaded(&self) -> Vec<Arc<LoadedModule>> {
        let mut modules: Vec<_> =
            self.loaded.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
        modules.sort_by(|a, b| a.mod_name().cmp(b.mod_name()));
        modules
    }

    /// Held by a pool creation while it loads its module and creates its
    /// container; waits (yielding the task's fiber) while an upgrade runs.
    pub fn creating(&self) -> RwLockReadGuard<'_, ()> {
        loop {
            match self.changing.try_read() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => crate::worker::yield_current_fiber(),
            }
        }
    }

    /// Held by a live upgrade from before it lists the module's pools until
    /// the new version is the one new pools get; waits (yielding) for the
    /// creations under way, up to `deadline`.
    pub fn upgrading(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, ()>> {
        loop {
            match self.changing.try_write() {
                Ok(guard) => return Some(guard),
                Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    crate::worker::yield_current_fiber()
                }
                Err(TryLockError::WouldBlock) => return None,
            }
        }
    }

    /// Loads `mod_name` from `path` instead of the search path (the library
    /// a live upgrade installed, at the next start), checked as any load.
    pub fn preload(&self, mod_name: &str, path: &Path) -> Result<(), String> {
        let module = Arc::new(self.load_new_version(mod_name, path)?);
        info!(
            module = mod_name,
            version = module.version(),
            path = %path.display(),
            "module loaded from the library a live upgrade installed"
        );
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).insert(mod_name.to_owned(), module);
        Ok(())
    }

    /// The module `mod_name` if it is loaded.
    pub fn get(&self, mod_name: &str) -> Option<Arc<LoadedModule>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).get(mod_name).cloned()
    }

    /// Loads the library at `path` as a new version of `mod_name`, checked
    /// as at start, without making it the one new pools use yet (see
    /// [`ModuleManager::replace`]). The file is copied to a private file
    /// first and that copy loaded (then unlinked; its mapping stays): the
    /// dynamic loader hands back the library already loaded for a path it
    /// has seen, and an operator's file overwritten in place must never
    /// change the code of the running version.
    /// The error names the operator's file, never the copy.
    pub fn load_new_version(&self, mod_name: &str, path: &Path) -> Result<LoadedModule, String> {
        let copy_error = |reason: String| ModuleError::Open { path: path.to_owned(), reason }.to_string();
        let mut source = std::fs::File::open(path).map_err(|e| copy_error(e.to_string()))?;
        let mut copy = tempfile::Builder::new()
            .prefix(&format!("lib{mod_name}-upgrade-"))
            .suffix(".so")
            .tempfile()
            .map_err(|e| copy_error(format!("cannot make a private copy to load: {e}")))?;
        std::io::copy(&mut source, copy.as_file_mut())
            .map_err(|e| copy_error(format!("cannot copy it: {e}")))?;
        let module = LoadedModule::load(mod_name, copy.path(), self.host)
            .map_err(|e| {
                e.to_string().replace(&copy.path().display().to_string(), &path.display().to_string())
            })?
            .reported_at(path);
        if module.exported_name() != mod_name {
            return Err(ModuleError::NotAModule {
                path: path.to_owned(),
                reason: format!("it is module `{}`, not `{mod_name}`", module.exported_name()),
            }
            .to_string());
        }
        Ok(module)
    }

    /// Makes `module` the version of its name that new pools use; the
    /// version it replaces is remembered (and stays loaded).
    pub fn replace(&self, module: Arc<LoadedModule>) {
        let old = self
            .loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(module.mod_name().to_owned(), module.clone());
        if let Some(old) = old {
            self.replaced
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(module.mod_name().to_owned())
                .or_default()
                .push(old.version().to_owned());
        }
    }

    /// The versions of `mod_name` that live upgrades replaced, oldest first.
    pub fn replaced(&self, mod_name: &str) -> Vec<String> {
        self.replaced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(mod_name)
            .cloned()
            .unwrap_or_default()
    }

    /// Names of the modules loaded so far.
    pub fn loaded_names(&self) -> Vec<String> {
        self.loaded().iter().map(|m| m.mod_name().to_owned()).collect()
    }
}
