//! The [`NodeStatus`] the peer task publishes after every event, for the four-letter words.

use super::{Host, NodeMachine, ReadOnlyChange};

impl<M: NodeMachine> Host<M> {
    pub(super) fn publish_status(&mut self) {
        let p = &self.peer;
        let m = p.machine();
        let Ok(mut s) = self.shared.status.lock() else {
            return;
        };
        s.state = p.state();
        s.phase = p.phase();
        s.serving = p.is_serving();
        s.read_only = self.sessions.is_read_only();
        s.last_zxid = p.last_processed_zxid();
        s.accepted_epoch = p.accepted_epoch();
        s.current_epoch = p.current_epoch();
        s.leader = p.leader_id();
        s.node_count = m.node_count();
        s.global_sessions = m.session_count();
        s.watch_count = m.watch_count();
        // These two walk the whole tree: refresh them at most once a second, not after every
        // event (they only feed mntr, whose numbers ZooKeeper also calls approximate).
        let now_ms = self.clock.elapsed().as_millis() as u64;
        if now_ms >= self.walk_stats_due_ms {
            self.walk_stats_due_ms = now_ms + 1000;
            s.ephemerals_count = m.ephemerals_count();
            s.approximate_data_size = m.approximate_data_size();
        }
        if let Some(l) = p.leader() {
            use zablab_core::config::LearnerType;
            use zablab_core::zab::leader::HandlerStage;
            s.learners = l.learners.len();
            let synced = |t: LearnerType| {
                l.learners
                    .values()
                    .filter(|h| h.learner_type == t && h.stage == HandlerStage::Broadcast)
                    .count()
            };
            s.synced_followers = synced(LearnerType::Participant);
            s.synced_observers = synced(LearnerType::Observer);
            let ensemble = &p.config().ensemble;
            s.synced_non_voting_followers = l
                .learners
                .iter()
                .filter(|(sid, h)| {
                    h.learner_type == LearnerType::Participant
                        && h.stage == HandlerStage::Broadcast
                        && !ensemble.is_voter(**sid)
                })
                .count();
            s.pending_syncs = l.pending_syncs.len();
        } else {
            s.learners = 0;
            s.synced_followers = 0;
            s.synced_observers = 0;
            s.synced_non_voting_followers = 0;
            s.pending_syncs = 0;
        }
        if let Some(l) = p.learner() {
            s.sync_mode = l.sync_mode.map(|m| m.name());
        }
    }
}

impl<M: NodeMachine> Host<M> {
    /// `readonlymode.enabled`: starts or stops the read-only server, with ZooKeeper's log lines.
    pub(super) fn read_only_step(&mut self) {
        let now = self.now();
        let myid = self.shared.config.myid;
        match self.sessions.read_only_step(&mut self.peer, now) {
            Some(ReadOnlyChange::Started) => {
                eprintln!("zablab[{myid}]: Read-only server started")
            }
            Some(ReadOnlyChange::Stopped { closed }) => eprintln!(
                "zablab[{myid}]: Read-only server shut down (election ended), {closed} connections closed"
            ),
            None => {}
        }
    }
}
