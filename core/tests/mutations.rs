//! The mutation check's recorded catches, replayed (CI): with each seeded bug switched on, the
//! seed that caught it must still violate the same invariant, and the same seed without the
//! bug must keep every invariant. The table comes from
//! `cargo run --release -p zablab-core --features mutations --example mutations`; when the
//! simulator changes, run that again and update the seeds here.
#![cfg(feature = "mutations")]

use zablab_core::mutation::{Mutation, Mutations};
use zablab_core::sim::sweep::{run_seed, SweepParams};

const CATCHES: [(Mutation, u64, &str); 12] = [
    (Mutation::AckBeforeDurable, 0, "DurableAcknowledgement"),
    (
        Mutation::CurrentEpochBeforeSyncLogged,
        0,
        "DurableAcknowledgement",
    ),
    (Mutation::StaleAckAfterTrunc, 470, "CommittedDurably"),
    (Mutation::CommitWithMinority, 0, "CommittedDurably"),
    (Mutation::FleZxidBeforeEpoch, 775, "Liveness"),
    (Mutation::AcceptOlderEpoch, 2007, "EpochMonotonicity"),
    (Mutation::NoAckEpochQuorum, 793, "AckedWriteDurability"),
    (Mutation::TruncBelowCommitted, 7, "Liveness"),
    (Mutation::ForgetAcceptedEpoch, 13, "EpochMonotonicity"),
    (Mutation::ObserverInQuorum, 38, "Liveness"),
    (Mutation::ApplyUncommitted, 5, "PrefixConsistency"),
    // Swept with reconfigs (see `params`).
    (Mutation::ReconfigNewQuorumOnly, 0, "CommittedDurably"),
];

/// A seed's sweep parameters with `m` switched on or not: reconfig bugs need the reconfig sweep.
fn params(m: Mutation, on: bool) -> SweepParams {
    SweepParams {
        mutations: if on {
            Mutations::only(m)
        } else {
            Mutations::NONE
        },
        reconfig: m == Mutation::ReconfigNewQuorumOnly,
        ..SweepParams::default()
    }
}

#[test]
fn every_seeded_bug_is_caught_by_its_recorded_seed_and_the_seed_is_clean_without_it() {
    assert_eq!(
        CATCHES.len(),
        Mutation::ALL.len(),
        "every mutation has a recorded catch"
    );
    for (m, seed, invariant) in CATCHES {
        let report = run_seed(params(m, true), seed);
        let caught = report.violation.as_ref().map(|v| v.invariant.as_str());
        assert_eq!(
            caught,
            Some(invariant),
            "{} at seed {seed}: {:?}\nprofile: {}",
            m.name(),
            report.violation,
            report.profile
        );
        let clean = run_seed(params(m, false), seed);
        assert!(
            clean.violation.is_none(),
            "seed {seed} without {}: {:?}",
            m.name(),
            clean.violation
        );
    }
}
