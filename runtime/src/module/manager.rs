//! Loads each module once and hands out shared references to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
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
        let mut names: Vec<_> =
            self.loaded.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        names.sort();
        names
    }
}
