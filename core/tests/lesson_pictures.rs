//! What the lab's picture shows while a lesson is played: a step animates as a sequence of
//! partial runs ([`LessonRun::play_partial`]), each exactly a prefix of the full step, and a
//! question asked before its step ("predict first") must not be answered by what the server
//! boxes already print (state, vote, lastLoggedZxid, lastProcessedZxid).
//!
//! `cargo test -p zablab-core --release --features serde --test lesson_pictures`
#![cfg(feature = "serde")]

use zablab_core::lesson::{catalog, AnswerFrom, Lesson, LessonRun};
use zablab_core::Sid;

fn lesson(name: &str) -> Lesson {
    Lesson::by_name(name).unwrap_or_else(|e| panic!("lesson {name}: {e}"))
}

/// What the box of server `sid` prints for the fields a question can ask about.
fn printed(run: &LessonRun, q: &AnswerFrom) -> Option<String> {
    let c = run.cluster();
    let peer = |s: &Sid| c.peer(*s);
    match q {
        AnswerFrom::StateOf(s) => Some(peer(s).map_or("DOWN", |p| p.state().name()).to_string()),
        AnswerFrom::VoteOf(s) => peer(s).map(|p| p.vote().vote_id.to_string()),
        AnswerFrom::LastLoggedOf(s) => peer(s).map(|p| p.last_logged_zxid().to_string()),
        AnswerFrom::LastCommittedOf(s) => peer(s).map(|p| p.last_processed_zxid().to_string()),
        AnswerFrom::Leader => {
            // A box reads LEADING, or every running voter's box names the same vote.
            if let Some(l) = c.leader() {
                return Some(l.to_string());
            }
            let votes: Vec<Sid> = c
                .ensemble()
                .voters()
                .filter_map(|s| c.peer(s).map(|p| p.vote().vote_id))
                .collect();
            match votes.first() {
                Some(v) if votes.len() > 1 && votes.iter().all(|x| x == v) => Some(v.to_string()),
                _ => None,
            }
        }
        _ => None,
    }
}

#[test]
fn no_prediction_is_already_printed_on_a_server_box() {
    let mut given_away = Vec::new();
    for (name, _) in catalog() {
        let l = lesson(name);
        for (i, step) in l.steps.iter().enumerate() {
            let Some(q) = &step.question else { continue };
            let mut run = LessonRun::new(l.clone()).expect("set up");
            run.goto(i);
            if printed(&run, &q.answer).as_deref() == Some(q.expect.trim()) {
                given_away.push(format!(
                    "{name} step {}: {:?} = {}",
                    i + 1,
                    q.answer,
                    q.expect
                ));
            }
        }
    }
    assert!(
        given_away.is_empty(),
        "answers on the boxes before the question: {given_away:#?}"
    );
}

#[test]
fn a_partial_step_is_a_prefix_of_the_full_step_and_a_large_budget_plays_all_of_it() {
    for name in ["01", "06", "16"] {
        let l = lesson(name);
        for i in 0..l.steps.len() {
            let mut base = LessonRun::new(l.clone()).expect("set up");
            base.goto(i);
            let first = base.cluster().trace().records().len();
            let mut full = base.clone();
            full.step_forward();
            let all = full.cluster().trace().records();
            let events = all.len() - first;
            let mut last_len = first;
            for budget in [1, 2, events / 3, events / 2, events.saturating_sub(1)] {
                let mut part = base.clone();
                let cut_short = part.play_partial(budget);
                let got = part.cluster().trace().records();
                assert!(
                    got.len() >= first + budget.min(events),
                    "{name} step {}",
                    i + 1
                );
                assert!(
                    got.len() >= last_len,
                    "{name} step {}: budgets grow the run",
                    i + 1
                );
                assert_eq!(
                    got[..],
                    all[..got.len()],
                    "{name} step {}: not a prefix",
                    i + 1
                );
                if !cut_short {
                    assert_eq!(got.len(), all.len(), "{name} step {}", i + 1);
                }
                last_len = got.len();
            }
            let mut whole = base.clone();
            assert!(
                !whole.play_partial(events + 1),
                "{name} step {}: budget above the step",
                i + 1
            );
            assert_eq!(
                whole.cluster().trace().hash(),
                full.cluster().trace().hash()
            );
        }
    }
}
