//! Known keys, for warnings about unknown ones with a "did you mean".
//!
//! The known keys are read from the serde structs themselves (serde hands a
//! struct's field list to `deserialize_struct`), so the list cannot drift
//! from what the loader accepts.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::file::{
    FileConfig, FileLogging, FileMemory, FileNetworking, FilePerformance, FileRuntime, FileWorkers,
};

/// The field names serde would accept for `T`.
fn fields_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

/// The keys a section accepts; `""` is the top level.
fn section_keys(section: &str) -> Option<&'static [&'static str]> {
    Some(match section {
        "" => fields_of::<FileConfig>(),
        "workers" => fields_of::<FileWorkers>(),
        "memory" => fields_of::<FileMemory>(),
        "networking" => fields_of::<FileNetworking>(),
        "logging" => fields_of::<FileLogging>(),
        "runtime" => fields_of::<FileRuntime>(),
        "performance" => fields_of::<FilePerformance>(),
        _ => return None,
    })
}

/// Every key the loader accepts as `section.key` (`workers.sched_threads`),
/// sections in file order; `compose` entries are the modules' own and not
/// listed. The documentation's key reference is checked against this list.
pub fn known_keys() -> Vec<String> {
    section_keys("")
        .unwrap_or_default()
        .iter()
        .filter_map(|section| Some((section, section_keys(section)?)))
        .flat_map(|(section, keys)| keys.iter().map(move |key| format!("{section}.{key}")))
        .collect()
}

/// The warning for an unknown key at `path` (`workers.shed_threads`).
pub(super) fn unknown_key_warning(file: &str, path: &str) -> String {
    let (section, key) = path.rsplit_once('.').unwrap_or(("", path));
    let hint = suggest(section, key).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
    format!("{file}: {path}: unknown key, ignored{hint}")
}

fn suggest(section: &str, key: &str) -> Option<String> {
    let siblings = section_keys(section)?;
    let best = siblings
        .iter()
        .map(|known| (strsim::jaro_winkler(key, known), *known))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score >= 0.8);
    if let Some((_, known)) = best {
        return Some(known.to_owned());
    }
    // The right key in the wrong section is the other common slip.
    let top = section_keys("")?;
    top.iter()
        .filter(|s| **s != section)
        .find(|s| section_keys(s).is_some_and(|keys| keys.contains(&key)))
        .map(|s| format!("{s}.{key}"))
}

/// A deserializer that only records the field list of the struct asked for.
struct FieldProbe<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct ProbeDone;

impl fmt::Display for ProbeDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe done")
    }
}

impl std::error::Error for ProbeDone {}

impl de::Error for ProbeDone {
    fn custom<T: fmt::Display>(_: T) -> Self {
        ProbeDone
    }
}

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = ProbeDone;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeDone> {
        Err(ProbeDone)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeDone> {
        *self.0 = fields;
        Err(ProbeDone)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_from_the_structs() {
        assert!(section_keys("workers").unwrap().contains(&"sched_threads"));
        assert!(section_keys("").unwrap().contains(&"compose"));
        let all = known_keys();
        assert!(all.contains(&"networking.cluster_key_file".to_owned()), "{all:?}");
        assert!(all.contains(&"performance.queue_depth".to_owned()), "{all:?}");
        assert!(!all.iter().any(|k| k.starts_with("compose")), "{all:?}");
    }

    #[test]
    fn suggests_near_keys_and_right_sections() {
        assert_eq!(suggest("workers", "shed_threads").as_deref(), Some("sched_threads"));
        assert_eq!(suggest("networking", "hostfle").as_deref(), Some("hostfile"));
        assert_eq!(suggest("workers", "queue_depth").as_deref(), Some("runtime.queue_depth"));
        assert_eq!(suggest("", "worker").as_deref(), Some("workers"));
        assert_eq!(suggest("memory", "zzzz"), None);
    }
}
