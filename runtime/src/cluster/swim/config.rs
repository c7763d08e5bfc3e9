//! The protocol's parameters, derived from `runtime.heartbeat_interval` and
//! the cluster's size.

use std::time::Duration;

/// How fast SWIM probes, suspects and spreads news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwimConfig {
    /// One probe per node per period.
    pub period: Duration,
    /// A probe without an ack this long is retried through others.
    pub ack_timeout: Duration,
    /// Members asked to probe on a node's behalf.
    pub indirect: usize,
    /// Members each node gossips news to per period while it has any.
    pub fanout: usize,
    /// How many messages carry each update: `retransmit × log2(n + 1)`.
    pub retransmit: u32,
    /// Periods a suspect has to refute before it is declared dead.
    pub suspicion_periods: u32,
    /// Updates one message carries at most.
    pub max_updates: usize,
}

impl SwimConfig {
    /// The parameters for `members` nodes and heartbeat interval `h`: five
    /// periods per heartbeat interval, so that a failure is seen everywhere
    /// within about three intervals (detection about two periods,
    /// suspicion five, dissemination `log3 n` periods).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = chimaera::cluster::swim::SwimConfig::for_cluster(Duration::from_secs(1), 8192);
    /// assert_eq!(c.period, Duration::from_millis(200));
    /// assert!(c.ack_timeout < c.period);
    /// ```
    pub fn for_cluster(heartbeat: Duration, members: usize) -> SwimConfig {
        Self::for_heartbeat(heartbeat).sized(members)
    }

    /// The parameters for heartbeat interval `h`, before they are fitted
    /// to a cluster's size ([`SwimConfig::sized`]); a detector whose
    /// cluster grows keeps these and fits them again.
    pub fn for_heartbeat(heartbeat: Duration) -> SwimConfig {
        let period = (heartbeat / 5).max(Duration::from_millis(2));
        SwimConfig {
            period,
            ack_timeout: period * 2 / 5,
            indirect: 3,
            fanout: 3,
            retransmit: 3,
            suspicion_periods: 5,
            max_updates: 24,
        }
    }

    /// These parameters fitted to `members` nodes.
    pub fn sized(self, members: usize) -> SwimConfig {
        // Tiny clusters have fewer members to ask than the defaults.
        let others = members.saturating_sub(1);
        SwimConfig {
            indirect: self.indirect.min(others.saturating_sub(1)),
            fanout: self.fanout.min(others),
            ..self
        }
    }

    /// Messages carrying an update after which it is no longer gossiped
    /// on its own (pings and acks still carry it): about three periods of
    /// a node's messages (its ping, an ack, `fanout` gossips).
    pub fn gossip_sends(&self) -> u32 {
        3 * (self.fanout as u32 + 2)
    }

    /// Transmissions of one update in a cluster of `members`.
    pub fn transmissions(&self, members: usize) -> u32 {
        let log = usize::BITS - (members + 1).leading_zeros();
        self.retransmit * log.max(1)
    }
}
