//! The range each numeric key accepts: values the runtime can honour.
//!
//! A value outside its range is refused at load with the key named, never
//! accepted to overflow later (a lane count of 0, a deadline past the end
//! of the clock, a queue no client can use). `docs/deployment.md` lists
//! each range in its reference tables, and the docs test checks that each
//! written bound is the loader's.

use std::time::Duration;

use chimod_sdk::Size;

/// `workers.sched_threads`: each is a thread with a lane of its own.
pub const SCHED_THREADS: (u32, u32) = (1, 1024);
/// `workers.slow_threads`.
pub const SLOW_THREADS: (u32, u32) = (0, 1024);
/// `workers.process_reaper_threads`.
pub const REAPER_THREADS: (u32, u32) = (1, 64);
/// `networking.neighborhood_size`.
pub const NEIGHBORHOOD: (u32, u32) = (1, 65_536);
/// `networking.wait_for_restart`: up to a day.
pub const WAIT_FOR_RESTART: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(86_400));
/// `networking.idle_connection_timeout`: 0 (never closed) up to a day.
pub const IDLE_CONNECTION: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(86_400));
/// `networking.wait_for_restart_poll_period`: a millisecond to an hour.
pub const POLL_PERIOD: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(3_600));
/// `runtime.stack_size`: below 16K a task's own frames and the runtime's
/// call path do not fit; above 256M every fiber's reservation would crowd
/// the address space.
pub const STACK_SIZE: (Size, Size) = (Size::from_bytes(16 << 10), Size::from_bytes(256 << 20));
/// `runtime.queue_depth` (and `performance.queue_depth`): a lane's cells
/// are a power of two at least this large.
pub const QUEUE_DEPTH: (u32, u32) = (1, 1 << 20);
/// `runtime.heartbeat_interval`: a millisecond to an hour.
pub const HEARTBEAT: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(3_600));
/// `runtime.first_busy_wait`: up to a second (0 turns spinning off).
pub const BUSY_WAIT: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(1));
/// `runtime.sleep_increment` and `runtime.max_sleep`: a microsecond to a second.
pub const SLEEP: (Duration, Duration) = (Duration::from_micros(1), Duration::from_secs(1));
