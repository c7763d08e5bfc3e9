//! The durable record of the pools created and destroyed while a runtime
//! ran, so a restart brings back what operators changed at runtime.
//!
//! One JSON file, `pools.json`, in the runtime identity's state directory
//! (`runtime.state_dir`). Every change writes the whole record to a new file,
//! fsyncs it, renames it over the old one and fsyncs the directory, before
//! the change is acknowledged: a crash at any instant leaves either the old
//! record or the new one, never a mix (a log with a torn last entry would
//! need repair on every start; a few hundred pools rewrite in well under a
//! millisecond).
//!
//! What is recorded, and who wins at start (`docs/deployment.md`, "Pools
//! that survive restarts"):
//! - a pool created at runtime (admin task, `chimaera compose`) is recorded
//!   and created again after the `compose:` section;
//! - a pool destroyed at runtime that the `compose:` section lists stays
//!   destroyed (a tombstone), since an operator's explicit destroy must not
//!   be undone by a restart; creating it again at runtime lifts it;
//! - a recorded pool whose id the `compose:` section now uses for another
//!   pool gives way to the file the operator edited, with a warning, and
//!   its entry is dropped so record and compose agree.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chimod_sdk::{PoolId, PoolQuery};
use serde::{Deserialize, Serialize};

use super::PoolSpec;

/// The record's file name in the state directory.
pub const RECORD_FILE: &str = "pools.json";
/// The record's format; a newer one is refused rather than misread.
const FORMAT: u32 = 1;
/// The largest record read (some 100,000 pools).
const MAX_RECORD: u64 = 64 << 20;

/// One recorded pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recorded {
    /// Created at runtime: created again at start.
    Created {
        /// Its id.
        pool_id: PoolId,
        /// Its module.
        mod_name: String,
        /// Its name.
        pool_name: String,
        /// Where it lives.
        pool_query: PoolQuery,
        /// The module's keys.
        params: serde_json::Map<String, serde_json::Value>,
    },
    /// A `compose:` pool destroyed at runtime: not created at start.
    Destroyed {
        /// Its id.
        pool_id: PoolId,
        /// Its module, for the operator reading the file.
        mod_name: String,
        /// Its name, likewise.
        pool_name: String,
    },
}

impl Recorded {
    /// The pool's id.
    pub fn pool_id(&self) -> PoolId {
        match self {
            Recorded::Created { pool_id, .. } | Recorded::Destroyed { pool_id, .. } => *pool_id,
        }
    }

    fn created(spec: &PoolSpec) -> Recorded {
        Recorded::Created {
            pool_id: spec.pool_id,
            mod_name: spec.mod_name.clone(),
            pool_name: spec.pool_name.clone(),
            pool_query: spec.pool_query,
            params: spec.params.clone(),
        }
    }

    /// The pool to create again, for a `Created` entry.
    pub fn spec(&self) -> Option<PoolSpec> {
        match self {
            Recorded::Created { pool_id, mod_name, pool_name, pool_query, params } => Some(PoolSpec {
                mod_name: mod_name.clone(),
                pool_name: pool_name.clone(),
                pool_query: *pool_query,
                pool_id: *pool_id,
                params: params.clone(),
            }),
            Recorded::Destroyed { .. } => None,
        }
    }
}

/// The file: a format number, then the contents.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordFile {
    format: u32,
    pools: Vec<Recorded>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    modules: BTreeMap<String, String>,
}

/// What the record holds.
#[derive(Debug, Clone, Default, PartialEq)]
struct Contents {
    /// In the order the changes were made, so pools are created again in
    /// the order they were first created.
    pools: Vec<Recorded>,
    /// Modules a live upgrade replaced: name to the library now serving,
    /// loaded from there at start instead of from the search path.
    modules: BTreeMap<String, String>,
}

/// Why the record cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}")]
pub struct RecordError {
    path: PathBuf,
    why: String,
}

/// The record of one runtime identity.
#[derive(Debug)]
pub struct PoolRecord {
    dir: PathBuf,
    path: PathBuf,
    /// The ids the `compose:` section of this start lists: only their
    /// destruction needs a tombstone.
    compose_ids: HashSet<PoolId>,
    contents: Mutex<Contents>,
}

/// What opening found besides the entries: things the log should say.
#[derive(Debug, Default)]
pub struct OpenNotes {
    /// A record that could not be read, moved aside to this path.
    pub moved_aside: Option<(PathBuf, String)>,
}

impl PoolRecord {
    /// Opens (or starts) the record in `dir`, creating the directory (mode
    /// 0700) if needed. An unreadable or malformed record is moved aside
    /// (`pools.json.bad-<unix seconds>`) so that nothing in it is lost and
    /// the next change cannot overwrite it; the runtime starts without it.
    pub fn open(dir: &Path, compose_ids: HashSet<PoolId>) -> Result<(PoolRecord, OpenNotes), RecordError> {
        let fail = |why: String| RecordError { path: dir.to_owned(), why };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| fail(format!("cannot create the state directory: {e}")))?;
        let meta = fs::symlink_metadata(dir).map_err(|e| fail(e.to_string()))?;
        if !meta.is_dir() {
            return Err(fail("the state directory is not a directory".to_owned()));
        }
        let uid = rustix::process::getuid().as_raw();
        if std::os::unix::fs::MetadataExt::uid(&meta) != uid {
            return Err(fail(format!(
                "the state directory belongs to uid {}, not to this runtime's uid {uid}; set runtime.state_dir or CHI_STATE_DIR to a directory of your own",
                std::os::unix::fs::MetadataExt::uid(&meta)
            )));
        }
        let path = dir.join(RECORD_FILE);
        let mut notes = OpenNotes::default();
        let contents = match read_record(&path) {
            Ok(contents) => contents,
            Err(why) => {
                let aside = path.with_extension(format!("json.bad-{}", unix_seconds()));
                fs::rename(&path, &aside)
                    .map_err(|e| fail(format!("cannot move the unreadable record aside ({why}): {e}")))?;
                notes.moved_aside = Some((aside, why));
                Contents::default()
            }
        };
        let record = PoolRecord { dir: dir.to_owned(), path, compose_ids, contents: Mutex::new(contents) };
        Ok((record, notes))
    }

    /// The record's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries, in the order they were recorded.
    pub fn entries(&self) -> Vec<Recorded> {
        self.lock().pools.clone()
    }

    /// Modules a live upgrade replaced: name and the library serving now.
    pub fn upgraded_modules(&self) -> Vec<(String, String)> {
        self.lock().modules.iter().map(|(m, p)| (m.clone(), p.clone())).collect()
    }

    /// The ids of `compose:` pools destroyed at runtime.
    pub fn destroyed_ids(&self) -> HashSet<PoolId> {
        self.lock()
            .pools
            .iter()
            .filter(|e| matches!(e, Recorded::Destroyed { .. }))
            .map(Recorded::pool_id)
            .collect()
    }

    /// Holds the record for one change: the caller makes the change (a
    /// creation, a destruction) and records it under the same guard, so
    /// two changes of one pool cannot be recorded in the other order.
    pub fn guard(&self) -> RecordGuard<'_> {
        RecordGuard { record: self, contents: self.lock() }
    }

    fn lock(&self) -> MutexGuard<'_, Contents> {
        self.contents.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The record, held for one change (see [`PoolRecord::guard`]).
#[derive(Debug)]
pub struct RecordGuard<'r> {
    record: &'r PoolRecord,
    contents: MutexGuard<'r, Contents>,
}

impl RecordGuard<'_> {
    /// Records that `spec` was created (lifting a tombstone of its id).
    pub fn created(&mut self, spec: &PoolSpec) -> Result<(), RecordError> {
        let mut next = self.without(spec.pool_id);
        next.pools.push(Recorded::created(spec));
        self.commit(next)
    }

    /// Records that `spec` was destroyed.
    pub fn destroyed(&mut self, spec: &PoolSpec) -> Result<(), RecordError> {
        let mut next = self.without(spec.pool_id);
        if self.record.compose_ids.contains(&spec.pool_id) {
            next.pools.push(Recorded::Destroyed {
                pool_id: spec.pool_id,
                mod_name: spec.mod_name.clone(),
                pool_name: spec.pool_name.clone(),
            });
        }
        self.commit(next)
    }

    /// Forgets the entry of `id` (one the `compose:` section overrides).
    pub fn forget(&mut self, id: PoolId) -> Result<(), RecordError> {
        let next = self.without(id);
        self.commit(next)
    }

    /// Records that module `mod_name` now runs the library at `path` (a
    /// live upgrade); `None` goes back to the search path.
    pub fn upgraded(&mut self, mod_name: &str, path: Option<&str>) -> Result<(), RecordError> {
        let mut next = self.contents.clone();
        match path {
            Some(path) => next.modules.insert(mod_name.to_owned(), path.to_owned()),
            None => next.modules.remove(mod_name),
        };
        self.commit(next)
    }

    /// The contents without any entry of pool `id`.
    fn without(&self, id: PoolId) -> Contents {
        Contents {
            pools: self.contents.pools.iter().filter(|e| e.pool_id() != id).cloned().collect(),
            modules: self.contents.modules.clone(),
        }
    }

    fn commit(&mut self, next: Contents) -> Result<(), RecordError> {
        if *self.contents == next {
            return Ok(());
        }
        let record = self.record;
        write_atomically(
            &record.dir,
            &record.path,
            &RecordFile { format: FORMAT, pools: next.pools.clone(), modules: next.modules.clone() },
        )
        .map_err(|e| RecordError {
            path: record.path.clone(),
            why: format!("cannot write the record: {e}"),
        })?;
        *self.contents = next;
        Ok(())
    }
}

fn read_record(path: &Path) -> Result<Contents, String> {
    let text = match chimaera_config::read_small_text(path, MAX_RECORD) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(e) => return Err(e.to_string()),
    };
    let file: RecordFile = serde_json::from_str(&text).map_err(|e| format!("not a pool record: {e}"))?;
    if file.format != FORMAT {
        return Err(format!("record format {} is not the format {FORMAT} this runtime reads", file.format));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = file.pools.iter().find(|e| !seen.insert(e.pool_id())) {
        return Err(format!("pool {} is recorded twice", dup.pool_id()));
    }
    Ok(Contents { pools: file.pools, modules: file.modules })
}

/// Writes `file` to `path` so that a crash leaves the old file or the new
/// one: a temporary file in the same directory, fsynced, renamed over
/// `path`, then the directory fsynced so the rename itself is durable.
fn write_atomically(dir: &Path, path: &Path, file: &RecordFile) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::Builder::new().prefix(".pools.").suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(&text)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    fs::File::open(dir)?.sync_all()
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(major: u32, name: &str) -> PoolSpec {
        let mut params = serde_json::Map::new();
        params.insert("capacity".into(), "1MB".into());
        PoolSpec {
            mod_name: "chimaera_bdev".into(),
            pool_name: name.into(),
            pool_query: PoolQuery::Local,
            pool_id: PoolId::new(major, 0),
            params,
        }
    }

    #[test]
    fn changes_survive_a_reopen_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let compose: HashSet<PoolId> = [PoolId::new(300, 0)].into();
        let (record, _) = PoolRecord::open(dir.path(), compose.clone()).unwrap();
        record.guard().created(&spec(500, "b")).unwrap();
        record.guard().created(&spec(400, "a")).unwrap();
        record.guard().destroyed(&spec(300, "composed")).unwrap();
        record.guard().destroyed(&spec(500, "b")).unwrap();
        record.guard().upgraded("chimaera_bdev", Some("/opt/new/libchimaera_bdev.so")).unwrap();
        let (again, notes) = PoolRecord::open(dir.path(), compose).unwrap();
        let upgraded = [("chimaera_bdev".to_owned(), "/opt/new/libchimaera_bdev.so".to_owned())];
        assert_eq!(again.upgraded_modules(), upgraded);
        assert!(notes.moved_aside.is_none());
        let ids: Vec<String> = again.entries().iter().map(|e| e.pool_id().to_string()).collect();
        assert_eq!(ids, ["400.0", "300.0"]);
        assert_eq!(again.destroyed_ids(), [PoolId::new(300, 0)].into());
        assert_eq!(again.entries()[0].spec(), Some(spec(400, "a")));
        // Creating a destroyed compose pool at runtime lifts its tombstone.
        again.guard().created(&spec(300, "composed")).unwrap();
        assert!(again.destroyed_ids().is_empty());
    }

    #[test]
    fn a_malformed_record_is_moved_aside_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(RECORD_FILE), "{\"format\": 1, \"pools\": [}").unwrap();
        let (record, notes) = PoolRecord::open(dir.path(), HashSet::new()).unwrap();
        assert!(record.entries().is_empty());
        let (aside, why) = notes.moved_aside.expect("moved aside");
        assert!(why.contains("not a pool record"), "{why}");
        assert_eq!(fs::read_to_string(aside).unwrap(), "{\"format\": 1, \"pools\": [}");
        assert!(!dir.path().join(RECORD_FILE).exists());
    }

    #[test]
    fn a_newer_format_and_a_duplicate_are_refused_not_misread() {
        for text in [
            r#"{"format": 2, "pools": []}"#,
            r#"{"format": 1, "pools": [{"state":"destroyed","pool_id":"3.0","mod_name":"m","pool_name":"p"},{"state":"destroyed","pool_id":"3.0","mod_name":"m","pool_name":"q"}]}"#,
        ] {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(RECORD_FILE), text).unwrap();
            let (_, notes) = PoolRecord::open(dir.path(), HashSet::new()).unwrap();
            assert!(notes.moved_aside.is_some(), "{text}");
        }
    }

    #[test]
    fn the_directory_is_private_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("a/b");
        let (record, _) = PoolRecord::open(&state, HashSet::new()).unwrap();
        record.guard().created(&spec(9, "x")).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&state).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o700);
        let names: Vec<_> = fs::read_dir(&state).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [std::ffi::OsString::from(RECORD_FILE)]);
    }
}
