//! The named choices of the configuration: log levels and lane policies.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// Declares a config enum whose YAML spellings are listed once, so parsing,
/// printing and the "expected one of" message cannot disagree.
macro_rules! named_choice {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = [$canonical:literal $(, $alias:literal)*]),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The spellings accepted in YAML, canonical ones first.
            pub const NAMES: &'static [&'static str] = &[$($canonical),+];

            /// The canonical YAML spelling.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $canonical),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                let lower = s.trim().to_ascii_lowercase();
                match lower.as_str() {
                    $($canonical $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} `{s}`; expected one of: {}",
                        $what,
                        Self::NAMES.join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

named_choice! {
    /// `logging.level`. The guide names `debug`, `info`, `warning` and `error`;
    /// `warn` and `trace` are accepted as well.
    LogLevel, "log level" {
        /// Everything, including per-task tracing.
        Trace = ["trace"],
        /// Detailed debugging information.
        Debug = ["debug"],
        /// General operational information.
        Info = ["info"],
        /// Warnings and errors.
        Warning = ["warning", "warn"],
        /// Errors only.
        Error = ["error"],
    }
}

named_choice! {
    /// `runtime.lane_map_policy`: how a submission picks its lane.
    LaneMapPolicy, "lane_map_policy" {
        /// Spread submissions evenly over the lanes.
        RoundRobin = ["round_robin"],
        /// Keep each client thread on one lane, for affinity.
        MapByPidTid = ["map_by_pid_tid"],
        /// Pick a lane at random.
        Random = ["random"],
    }
}

impl LogLevel {
    /// The matching `tracing` level.
    pub fn as_tracing(self) -> tracing::Level {
        match self {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warning => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_maps_to_warn() {
        assert_eq!("warning".parse::<LogLevel>().unwrap().as_tracing(), tracing::Level::WARN);
        assert_eq!("WARN".parse::<LogLevel>().unwrap(), LogLevel::Warning);
    }

    #[test]
    fn unknown_names_list_the_choices() {
        let err = "fastest".parse::<LaneMapPolicy>().unwrap_err();
        assert!(err.contains("round_robin, map_by_pid_tid, random"), "{err}");
    }
}
