//! Lessons: ZooKeeper's classic walkthroughs of FastLeaderElection, ZAB recovery and the
//! client recipes, as data that the browser lab plays, the terminal replays
//! (`zablab lesson`), and the tests run as regression tests.
//!
//! A [`Lesson`] (parsed from `lessons/*.json`, see `docs/lesson-format.md`) is a cluster set-up,
//! a seed, and steps. Each step narrates in English and Chinese, performs actions on a
//! simulated ensemble replicating the real data tree ([`crate::sim::zk::ZkCluster`]) with
//! simulated clients ([`crate::sim::zk::ZkClients`]), then checks a [`Checkpoint`] and may ask a
//! [`Question`] whose answer is computed from the run. [`Exercise`]s are free-play goals
//! checked from the trace ([`check_exercise`]).
//!
//! ```text
//!   Lesson (data) ──▶ LessonRun::new ──▶ step_forward() ─▶ StepReport { checkpoint, answer, flow }
//!                         ▲                  │
//!                         └── goto(step): re-run from the seed (runs are deterministic)
//! ```
//!
//! Nothing here panics on a bad lesson: [`Lesson::validate`] rejects unknown servers,
//! clients, states, message kinds and zxids with a [`LessonError`], and checkpoint failures
//! are reported as data ([`Failure`]: what was expected, what was found).

mod actions;
mod check;
mod exercise;
mod format;
mod run;
pub mod text;
mod validate;

use alloc::string::String;
use core::fmt;

pub use check::{CheckResult, Failure};
pub use exercise::{check_exercise, check_exercise_since, ExerciseResult};
pub use format::{
    parse_zxid, AnswerFrom, Checkpoint, ClientOp, ClusterSpec, CountSpec, DiskSpec, Exercise, Goal,
    Highlight, Lang, Lesson, LinkSpec, MessageCheck, Question, Step, StepAction, SyncCheck, Text,
    VoteSpec, ZnodeCheck,
};
pub use run::{Fate, FlowMessage, LessonRun, StepReport};

/// The identity checkpoints, answers and views read the data tree with: `super`, which
/// every ACL check lets through, so a protected node is still visible to the lesson itself.
pub(crate) fn observer() -> alloc::vec::Vec<crate::tree::Id> {
    alloc::vec![crate::tree::Id::new("super", "")]
}

/// Why a lesson could not be loaded or played.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LessonError {
    /// The file is not valid JSON for the lesson format.
    Parse(String),
    /// The lesson refers to something that does not exist or is malformed.
    Invalid(String),
    /// No lesson or exercise of that name or number.
    NotFound(String),
}

impl fmt::Display for LessonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LessonError::Parse(m) => write!(f, "lesson file does not parse: {m}"),
            LessonError::Invalid(m) => write!(f, "invalid lesson: {m}"),
            LessonError::NotFound(m) => write!(f, "not found: {m}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LessonError {}

#[cfg(feature = "serde")]
impl Lesson {
    /// Parses and validates a lesson file.
    pub fn from_json(text: &str) -> Result<Lesson, LessonError> {
        let lesson: Lesson =
            serde_json::from_str(text).map_err(|e| LessonError::Parse(alloc::format!("{e}")))?;
        lesson.validate()?;
        Ok(lesson)
    }

    /// The lesson of the catalog with this name (or a unique prefix of it, e.g. `01`).
    pub fn by_name(name: &str) -> Result<Lesson, LessonError> {
        let (_, text) = find(name)?;
        Lesson::from_json(text)
    }
}

/// Every lesson file, in order: (name, JSON text). The same files are embedded in the
/// `zablab` binary and the tests; the browser lab fetches them from `dist/lessons/` instead
/// (its lessons module does not call this, so they stay out of its wasm).
pub fn catalog() -> &'static [(&'static str, &'static str)] {
    macro_rules! lessons {
        ($($name:literal),* $(,)?) => {
            &[$(($name, include_str!(concat!("../../../lessons/", $name, ".json")))),*]
        };
    }
    lessons!(
        "01-startup-election",
        "02-votes-and-logicclock",
        "03-leader-crash",
        "04-broadcast",
        "05-recovery-diff",
        "06-recovery-trunc",
        "07-recovery-snap",
        "08-why-a-majority",
        "09-observers",
        "10-sessions-ephemerals",
        "11-distributed-lock",
        "12-watches-one-shot",
        "13-quorum-logged-survives",
        "14-versions-conditional-set",
        "15-guarantees-and-sync",
        "16-session-moves",
        "17-recipes-election-herd",
        "18-zab-phases",
        "19-acls",
        "20-znode-rules",
    )
}

/// The catalog entry named `name`, or the only one starting with it.
pub fn find(name: &str) -> Result<(&'static str, &'static str), LessonError> {
    let all = catalog();
    if let Some(e) = all.iter().find(|(n, _)| *n == name) {
        return Ok(*e);
    }
    let mut matches = all.iter().filter(|(n, _)| n.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(e), None) if !name.is_empty() => Ok(*e),
        _ => Err(LessonError::NotFound(alloc::format!("lesson {name:?}"))),
    }
}
