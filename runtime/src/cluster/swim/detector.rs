//! One node's SWIM state machine: fed the time and the messages that
//! arrive, it says what to send and which members changed.

use std::time::Duration;

use super::config::SwimConfig;
use super::message::{Liveness, Message, Update};

/// A member's liveness changed, as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The member.
    pub node: u32,
    /// What it is now.
    pub liveness: Liveness,
    /// At which of its incarnations.
    pub incarnation: u64,
    /// When this node decided it.
    pub at: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    incarnation: u64,
    liveness: Liveness,
    /// When it became suspect, for the suspicion timeout.
    suspect_since: Duration,
}

/// This period's probe.
#[derive(Debug, Clone, Copy)]
struct Probe {
    target: u32,
    seq: u64,
    sent: Duration,
    indirect_sent: bool,
    acked: bool,
}

/// A ping sent for another member's probe (a `PingReq`).
#[derive(Debug, Clone, Copy)]
struct Relay {
    seq: u64,
    requester: u32,
    their_seq: u64,
    until: Duration,
}

/// One node's view of the cluster and its protocol state.
#[derive(Debug)]
pub struct Swim {
    me: u32,
    /// The parameters before they were fitted to the cluster's size.
    base: SwimConfig,
    config: SwimConfig,
    /// Set by [`Swim::leave`]: this node neither probes nor answers.
    leaving: bool,
    members: Vec<Member>,
    order: Vec<u32>,
    next: usize,
    rng: fastrand::Rng,
    seq: u64,
    period_start: Option<Duration>,
    probe: Option<Probe>,
    relays: Vec<Relay>,
    /// Updates to spread and how many more messages carry each.
    news: Vec<(Update, u32)>,
    transmissions: u32,
    changes: Vec<Change>,
    /// The members suspect now: timers look at these alone, so a tick
    /// costs the same however large the cluster.
    suspects: Vec<u32>,
}

impl Swim {
    /// Node `me` of `members` (ids 0..members), every member alive at
    /// incarnation 0, this node at `incarnation` (a restarted node takes a
    /// larger one, so that its aliveness overrides its old death).
    /// `config` is fitted to the cluster's size here and again as it grows.
    pub fn new(me: u32, members: usize, incarnation: u64, config: SwimConfig, seed: u64) -> Swim {
        let mut all = vec![
            Member { incarnation: 0, liveness: Liveness::Alive, suspect_since: Duration::ZERO };
            members
        ];
        all[me as usize].incarnation = incarnation;
        let mut swim = Swim {
            me,
            base: config,
            config: config.sized(members),
            leaving: false,
            members: all,
            order: (0..members as u32).filter(|n| *n != me).collect(),
            next: 0,
            rng: fastrand::Rng::with_seed(seed),
            seq: 0,
            period_start: None,
            probe: None,
            relays: Vec::new(),
            news: Vec::new(),
            transmissions: config.transmissions(members),
            changes: Vec::new(),
            suspects: Vec::new(),
        };
        swim.rng.shuffle(&mut swim.order);
        // Its own aliveness, so that a restarted node is known alive again.
        swim.spread(Update { node: me, incarnation, liveness: Liveness::Alive });
        swim
    }

    /// What this node believes of `node`.
    pub fn liveness(&self, node: u32) -> Liveness {
        self.members[node as usize].liveness
    }

    /// How many members, this node and those that left included.
    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// Takes in the members `members()..members`, joining a running
    /// cluster: alive at incarnation 0 until heard of (one that never
    /// answers is suspected and found dead like any other). Each goes to a
    /// random place of this round's order.
    pub fn grow(&mut self, members: usize) {
        let was = self.members.len();
        if members <= was {
            return;
        }
        let alive = Member { incarnation: 0, liveness: Liveness::Alive, suspect_since: Duration::ZERO };
        self.members.resize(members, alive);
        for node in was as u32..members as u32 {
            let at = self.rng.usize(0..=self.order.len());
            self.order.insert(at, node);
        }
        self.config = self.base.sized(members);
        self.transmissions = self.base.transmissions(members);
    }

    /// This node leaves the cluster: the message to send each member that
    /// is not dead or gone, telling it so. From now on this node neither
    /// probes nor answers; another that restarts later in its place takes
    /// a higher incarnation and is alive again.
    pub fn leave(&mut self) -> Vec<(u32, Message)> {
        self.leaving = true;
        let me = self.members[self.me as usize];
        let left = Update { node: self.me, incarnation: me.incarnation, liveness: Liveness::Left };
        (0..self.members.len() as u32)
            .filter(|n| *n != self.me && self.is_reachable(*n))
            .map(|n| (n, Message::Gossip { updates: vec![left] }))
            .collect()
    }

    /// Whether `node` is worth a message: neither dead nor gone.
    fn is_reachable(&self, node: u32) -> bool {
        !matches!(self.members[node as usize].liveness, Liveness::Dead | Liveness::Left)
    }

    /// The changes since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// When [`Swim::tick`] has something to do next.
    pub fn next_deadline(&self) -> Duration {
        let Some(start) = self.period_start else { return Duration::ZERO };
        let mut next = start + self.config.period;
        if let Some(p) = self.probe.filter(|p| !p.acked && !p.indirect_sent) {
            next = next.min(p.sent + self.config.ack_timeout);
        }
        let suspicion = self.config.period * self.config.suspicion_periods;
        for s in &self.suspects {
            next = next.min(self.members[*s as usize].suspect_since + suspicion);
        }
        next
    }

    /// Runs the timers due at `now`; what to send goes to `out`.
    pub fn tick(&mut self, now: Duration, out: &mut Vec<(u32, Message)>) {
        if self.leaving {
            return;
        }
        if let Some(p) = self.probe.filter(|p| !p.acked && !p.indirect_sent)
            && now >= p.sent + self.config.ack_timeout
        {
            self.ask_others(p, out);
        }
        let suspicion = self.config.period * self.config.suspicion_periods;
        let due: Vec<Update> = self
            .suspects
            .iter()
            .map(|s| (*s, self.members[*s as usize]))
            .filter(|(_, m)| now >= m.suspect_since + suspicion)
            .map(|(node, m)| Update { node, incarnation: m.incarnation, liveness: Liveness::Dead })
            .collect();
        for update in due {
            self.apply(now, update);
        }
        if self.period_start.is_none_or(|start| now >= start + self.config.period) {
            self.new_period(now, out);
        }
    }

    /// Handles `message` from `from`, arrived at `now`.
    pub fn receive(&mut self, now: Duration, from: u32, message: Message, out: &mut Vec<(u32, Message)>) {
        if from as usize >= self.members.len() || from == self.me || self.leaving {
            return;
        }
        let my_incarnation = self.members[self.me as usize].incarnation;
        for u in message.updates() {
            self.apply(now, *u);
        }
        let mine = self.members[self.me as usize];
        if mine.incarnation != my_incarnation {
            // The sender suspects this node or holds it dead: the refutation
            // goes straight back rather than waiting for gossip to reach it.
            let alive = Update { node: self.me, incarnation: mine.incarnation, liveness: Liveness::Alive };
            out.push((from, Message::Gossip { updates: vec![alive] }));
        }
        let sender = self.members[from as usize];
        if matches!(sender.liveness, Liveness::Suspect | Liveness::Dead) {
            // It speaks, so it is there: tell it what this node believes, so
            // that it refutes before its suspicion times out here (the
            // suspicion sent when the probe failed may have been lost).
            let rumour = Update { node: from, incarnation: sender.incarnation, liveness: sender.liveness };
            out.push((from, Message::Gossip { updates: vec![rumour] }));
        }
        match message {
            Message::Ping { seq, .. } => {
                let updates = self.piggyback();
                out.push((from, Message::Ack { seq, of: self.me, updates }));
            }
            Message::PingReq { seq, target, .. } if (target as usize) < self.members.len() => {
                self.seq += 1;
                let relay =
                    Relay { seq: self.seq, requester: from, their_seq: seq, until: now + self.config.period };
                self.relays.push(relay);
                let updates = self.piggyback();
                out.push((target, Message::Ping { seq: relay.seq, updates }));
            }
            Message::Ack { seq, of, .. } => {
                if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq && p.target == of) {
                    p.acked = true;
                } else if let Some(i) = self.relays.iter().position(|r| r.seq == seq) {
                    let r = self.relays.swap_remove(i);
                    let updates = self.piggyback();
                    out.push((r.requester, Message::Ack { seq: r.their_seq, of, updates }));
                }
            }
            Message::PingReq { .. } | Message::Gossip { .. } => {}
        }
    }

    fn new_period(&mut self, now: Duration, out: &mut Vec<(u32, Message)>) {
        if let Some(p) = self.probe.take().filter(|p| !p.acked) {
            let m = self.members[p.target as usize];
            if m.liveness == Liveness::Alive {
                let suspect =
                    Update { node: p.target, incarnation: m.incarnation, liveness: Liveness::Suspect };
                self.apply(now, suspect);
                // Told at once, a live suspect refutes before the others
                // time it out.
                out.push((p.target, Message::Gossip { updates: vec![suspect] }));
            }
        }
        self.relays.retain(|r| r.until > now);
        self.period_start = Some(now);
        if let Some(target) = self.next_target() {
            self.seq += 1;
            self.probe = Some(Probe { target, seq: self.seq, sent: now, indirect_sent: false, acked: false });
            let updates = self.piggyback();
            out.push((target, Message::Ping { seq: self.seq, updates }));
        }
        // Gossip starts the epidemic; once every update has been carried a
        // few periods' worth of messages, pings and acks carry the rest.
        // Every node hears of every change, so this bounds what each change
        // costs each node, and a large cluster has more changes.
        let fresh = self.transmissions.saturating_sub(self.config.gossip_sends());
        if self.news.iter().any(|(_, left)| *left > fresh) {
            for to in self.pick(self.config.fanout, &[]) {
                let updates = self.piggyback();
                if updates.is_empty() {
                    break;
                }
                out.push((to, Message::Gossip { updates }));
            }
        }
    }

    /// The next member in the round, dead ones included (a restarted node
    /// answers and is alive again) but not those that left; the order is
    /// shuffled each round.
    fn next_target(&mut self) -> Option<u32> {
        for _ in 0..self.order.len() {
            if self.next >= self.order.len() {
                self.next = 0;
                self.rng.shuffle(&mut self.order);
            }
            self.next += 1;
            let target = self.order[self.next - 1];
            if self.members[target as usize].liveness != Liveness::Left {
                return Some(target);
            }
        }
        None
    }

    fn ask_others(&mut self, probe: Probe, out: &mut Vec<(u32, Message)>) {
        for helper in self.pick(self.config.indirect, &[probe.target]) {
            let updates = self.piggyback();
            out.push((helper, Message::PingReq { seq: probe.seq, target: probe.target, updates }));
        }
        if let Some(p) = self.probe.as_mut() {
            p.indirect_sent = true;
        }
    }

    /// Up to `k` random members that are not dead or gone, not this node
    /// and not in `except`.
    fn pick(&mut self, k: usize, except: &[u32]) -> Vec<u32> {
        let n = self.members.len() as u32;
        let mut chosen = Vec::with_capacity(k);
        // Random tries, then give up: in a mostly dead cluster fewer are found.
        for _ in 0..k * 4 {
            if chosen.len() == k {
                break;
            }
            let c = self.rng.u32(0..n);
            if c != self.me && !except.contains(&c) && !chosen.contains(&c) && self.is_reachable(c) {
                chosen.push(c);
            }
        }
        chosen
    }

    /// Takes what is known about `update.node` to `update` if it is newer,
    /// and spreads it; an update that this node is suspect or dead is
    /// refuted with a higher incarnation.
    fn apply(&mut self, now: Duration, update: Update) {
        let Some(m) = self.members.get_mut(update.node as usize) else { return };
        if update.node == self.me {
            if update.liveness != Liveness::Alive && update.incarnation >= m.incarnation {
                m.incarnation = update.incarnation + 1;
                let alive = Update { node: self.me, incarnation: m.incarnation, liveness: Liveness::Alive };
                self.spread(alive);
            }
            return;
        }
        if !update.overrides(m.incarnation, m.liveness) {
            return;
        }
        // A member first heard of alive at a real incarnation (its own
        // start news) is news too: it is up before this node probes it.
        let changed = m.liveness != update.liveness
            || (update.liveness == Liveness::Alive && m.incarnation == 0 && update.incarnation > 0);
        let was_suspect = m.liveness == Liveness::Suspect;
        m.incarnation = update.incarnation;
        m.liveness = update.liveness;
        if update.liveness == Liveness::Suspect {
            m.suspect_since = now;
        }
        match (was_suspect, update.liveness == Liveness::Suspect) {
            (false, true) => self.suspects.push(update.node),
            (true, false) => self.suspects.retain(|s| *s != update.node),
            _ => {}
        }
        if changed {
            self.changes.push(Change {
                node: update.node,
                liveness: update.liveness,
                incarnation: update.incarnation,
                at: now,
            });
        }
        self.spread(update);
    }

    /// Queues `update` for the next messages, replacing older news of the
    /// same member.
    fn spread(&mut self, update: Update) {
        self.news.retain(|(u, _)| u.node != update.node);
        self.news.push((update, self.transmissions));
    }

    /// The updates the next message carries: the least sent first.
    fn piggyback(&mut self) -> Vec<Update> {
        if self.news.is_empty() {
            return Vec::new();
        }
        self.news.sort_by_key(|(_, left)| std::cmp::Reverse(*left));
        let take = self.news.len().min(self.config.max_updates);
        let updates = self.news[..take].iter().map(|(u, _)| *u).collect();
        for entry in &mut self.news[..take] {
            entry.1 -= 1;
        }
        self.news.retain(|(_, left)| *left > 0);
        updates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` nodes exchanging messages without loss; `dead` never answer.
    fn run(n: usize, dead: &[u32], until: Duration) -> Vec<Swim> {
        let config = SwimConfig::for_cluster(Duration::from_millis(100), n);
        let mut nodes: Vec<Swim> =
            (0..n as u32).map(|i| Swim::new(i, n, 1, config, u64::from(i) + 7)).collect();
        let step = Duration::from_millis(1);
        let mut now = Duration::ZERO;
        let mut wire: Vec<(u32, u32, Message)> = Vec::new();
        while now < until {
            let mut out = Vec::new();
            for (i, node) in nodes.iter_mut().enumerate() {
                if dead.contains(&(i as u32)) {
                    continue;
                }
                node.tick(now, &mut out);
                wire.extend(out.drain(..).map(|(to, m)| (i as u32, to, m)));
            }
            for (from, to, m) in std::mem::take(&mut wire) {
                if !dead.contains(&to) {
                    nodes[to as usize].receive(now, from, m, &mut out);
                    wire.extend(out.drain(..).map(|(t, m)| (to, t, m)));
                }
            }
            now += step;
        }
        nodes
    }

    #[test]
    fn a_silent_node_is_declared_dead_by_all_and_no_live_node_is() {
        let nodes = run(16, &[5], Duration::from_secs(3));
        for (i, node) in nodes.iter().enumerate().filter(|(i, _)| *i != 5) {
            assert_eq!(node.liveness(5), Liveness::Dead, "node {i}");
            for other in (0..16).filter(|o| *o != 5) {
                assert_eq!(node.liveness(other), Liveness::Alive, "node {i} on {other}");
            }
        }
    }

    #[test]
    fn a_suspect_that_hears_of_it_refutes_with_a_higher_incarnation() {
        let config = SwimConfig::for_cluster(Duration::from_millis(100), 3);
        let mut node = Swim::new(1, 3, 4, config, 1);
        let mut out = Vec::new();
        let rumour = Update { node: 1, incarnation: 4, liveness: Liveness::Suspect };
        node.receive(Duration::ZERO, 0, Message::Gossip { updates: vec![rumour] }, &mut out);
        node.receive(Duration::ZERO, 0, Message::Ping { seq: 9, updates: vec![] }, &mut out);
        let Some((0, Message::Ack { seq: 9, of: 1, updates })) = out.pop() else { panic!("an ack") };
        assert!(
            updates.contains(&Update { node: 1, incarnation: 5, liveness: Liveness::Alive }),
            "{updates:?}"
        );
    }

    #[test]
    fn a_suspect_that_speaks_is_told_and_its_refutation_comes_straight_back() {
        let config = SwimConfig::for_cluster(Duration::from_millis(100), 3);
        let mut zero = Swim::new(0, 3, 1, config, 1);
        let mut one = Swim::new(1, 3, 1, config, 2);
        // Node 2 says node 1 is suspect; the suspicion never reaches node 1.
        let rumour = Update { node: 1, incarnation: 1, liveness: Liveness::Suspect };
        let mut out = Vec::new();
        zero.receive(Duration::ZERO, 2, Message::Gossip { updates: vec![rumour] }, &mut out);
        assert_eq!(zero.liveness(1), Liveness::Suspect);
        out.clear();
        zero.receive(Duration::ZERO, 1, Message::Ping { seq: 3, updates: vec![] }, &mut out);
        let told: Vec<Message> = out.drain(..).filter(|(to, _)| *to == 1).map(|(_, m)| m).collect();
        assert!(told.iter().any(|m| m.updates().contains(&rumour)), "{told:?}");
        for message in told {
            one.receive(Duration::ZERO, 0, message, &mut out);
        }
        let refuted = Update { node: 1, incarnation: 2, liveness: Liveness::Alive };
        let back: Vec<Message> = out.drain(..).filter(|(to, _)| *to == 0).map(|(_, m)| m).collect();
        assert!(back.iter().any(|m| m.updates() == [refuted]), "{back:?}");
        for message in back {
            zero.receive(Duration::ZERO, 1, message, &mut out);
        }
        assert_eq!(zero.liveness(1), Liveness::Alive);
    }

    #[test]
    fn a_member_that_leaves_is_gone_everywhere_at_once_and_never_found_dead() {
        let n = 8;
        let config = SwimConfig::for_cluster(Duration::from_millis(100), n);
        let mut nodes: Vec<Swim> =
            (0..n as u32).map(|i| Swim::new(i, n, 1, config, u64::from(i) + 3)).collect();
        let farewell = nodes[3].leave();
        assert_eq!(farewell.len(), n - 1);
        let mut out = Vec::new();
        for (to, message) in farewell {
            nodes[to as usize].receive(Duration::ZERO, 3, message, &mut out);
        }
        for (i, node) in nodes.iter_mut().enumerate().filter(|(i, _)| *i != 3) {
            assert_eq!(node.liveness(3), Liveness::Left, "node {i}");
            // Never probed again: a full round of periods pings others only.
            for period in 1..=2 * n as u64 {
                out.clear();
                node.tick(Duration::from_millis(100 * period), &mut out);
                assert!(out.iter().all(|(to, _)| *to != 3), "node {i} sent to the member that left: {out:?}");
            }
            assert!(node.take_changes().iter().any(|c| c.node == 3 && c.liveness == Liveness::Left));
        }
        // It comes back later with a higher incarnation: alive again.
        let mut back = Swim::new(3, n, 2, config, 99);
        out.clear();
        back.tick(Duration::ZERO, &mut out);
        let (to, ping) = out.pop().expect("a first probe");
        nodes[to as usize].receive(Duration::ZERO, 3, ping, &mut out);
        assert_eq!(nodes[to as usize].liveness(3), Liveness::Alive);
    }

    #[test]
    fn a_cluster_that_grows_probes_its_new_members_and_finds_a_silent_one_dead() {
        let config = SwimConfig::for_cluster(Duration::from_millis(100), 2);
        let mut node = Swim::new(0, 2, 1, config, 5);
        node.grow(4);
        assert_eq!(node.members(), 4);
        let mut probed = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut now = Duration::ZERO;
        // Node 1 answers every ping; nodes 2 and 3 never do.
        while now < Duration::from_secs(3) {
            out.clear();
            node.tick(now, &mut out);
            for (to, message) in std::mem::take(&mut out) {
                probed.insert(to);
                if let (1, Message::Ping { seq, .. }) = (to, &message) {
                    let ack = Message::Ack { seq: *seq, of: 1, updates: vec![] };
                    node.receive(now, 1, ack, &mut out);
                }
            }
            now += Duration::from_millis(5);
        }
        assert!(probed.contains(&2) && probed.contains(&3), "{probed:?}");
        assert_eq!(
            (node.liveness(1), node.liveness(2), node.liveness(3)),
            (Liveness::Alive, Liveness::Dead, Liveness::Dead)
        );
    }

    #[test]
    fn newer_incarnations_win_and_dead_beats_suspect_at_the_same_one() {
        let up = |i, l| Update { node: 0, incarnation: i, liveness: l };
        assert!(up(2, Liveness::Alive).overrides(1, Liveness::Dead));
        assert!(up(1, Liveness::Dead).overrides(1, Liveness::Suspect));
        assert!(!up(1, Liveness::Alive).overrides(1, Liveness::Suspect));
        assert!(!up(0, Liveness::Dead).overrides(1, Liveness::Alive));
        assert!(up(1, Liveness::Left).overrides(1, Liveness::Dead));
        assert!(up(2, Liveness::Alive).overrides(1, Liveness::Left));
    }
}
