//! The lab's lesson mode, free of any browser type: a [`LessonRun`] of the core (the lesson's
//! own `ZkCluster`, clients, checkpoints, questions and exercises), the step shown, the
//! student's answers and exercise tries, and the timeline bands of the run. Everything a
//! lesson shows or checks comes from `zablab_core::lesson`; this module only maps the lab's
//! buttons onto the lesson's actions.
//!
//! Back re-runs the lesson from its seed up to the previous step ([`LessonRun::goto`]): runs are
//! deterministic, so what the page shows after Back is exactly what it showed before Next.

use zablab_core::lesson::text::{flow_line, flow_lines, FlowOptions};
use zablab_core::lesson::{
    ClientOp, ExerciseResult, Lang, Lesson, LessonError, LessonRun, LinkSpec, StepAction,
    StepReport,
};
use zablab_core::Sid;

use crate::lab::{extend_bands, new_bands, BandRow, LabAction, LabCluster};

/// How many messages the flow panel lists during free play (the latest ones).
const FREE_PLAY_FLOW_LINES: usize = 18;

/// A lesson being shown in the lab.
pub struct LessonMode {
    pub run: LessonRun,
    /// The exercise in free play, if any.
    pub exercise: Option<usize>,
    /// The last verdict on the exercise, and how many tries so far.
    pub result: Option<ExerciseResult>,
    pub tries: u32,
    /// Per step: the student's last answer to its question and whether it was right.
    pub answers: Vec<Option<(String, bool)>>,
    /// Per server: the phase timeline of the run.
    pub bands: Vec<(Sid, BandRow)>,
    bands_records: usize,
}

/// Parses and validates a lesson file. (The same as `Lesson::from_json`, but the serde code is
/// instantiated here, in the size-optimised UI crate, not in the speed-optimised core: that
/// keeps the shipped wasm small.)
fn parse(text: &str) -> Result<Lesson, String> {
    let lesson: Lesson =
        serde_json::from_str(text).map_err(|e| LessonError::Parse(e.to_string()).to_string())?;
    lesson.validate().map_err(|e| e.to_string())?;
    Ok(lesson)
}

/// The link the lab's buttons name, as a lesson's link.
fn link(from: Sid, to: Sid, both: bool, extra_ms: u64) -> LinkSpec {
    LinkSpec {
        from,
        to,
        both,
        extra_ms,
    }
}

/// The lesson action for a lab action (server and network faults); writes go through
/// [`LessonMode::write`] and its clients.
pub fn step_action(a: &LabAction) -> Result<StepAction, String> {
    use zablab_core::sim::Action;
    Ok(match a {
        Action::Start(s) => StepAction::Start(*s),
        Action::Restart(s) => StepAction::Restart(*s),
        Action::Crash(s) => StepAction::Kill(*s),
        Action::WipeDisk(s) => StepAction::Wipe(*s),
        Action::Isolate(s) => StepAction::Isolate(*s),
        Action::Cut { from, to, both } => StepAction::Cut(link(*from, *to, *both, 0)),
        Action::Heal { from, to, both } => StepAction::Heal(link(*from, *to, *both, 0)),
        Action::HealAll => StepAction::HealAll,
        Action::DropNext { from, to } => StepAction::DropNext(link(*from, *to, false, 0)),
        Action::SetLink {
            drop_per_million, ..
        } if *drop_per_million > 0 => {
            return Err("drop rates are not part of lessons: use a delay or a cut".into())
        }
        Action::SetLink {
            from, to, extra_ms, ..
        } => StepAction::Slow(link(*from, *to, false, *extra_ms)),
        Action::Write { .. } | Action::Sync { .. } => {
            return Err("in a lesson, clients write through the client form".into())
        }
        Action::Pause { .. } | Action::StallDisk { .. } | Action::WipeIfRedundant { .. } => {
            return Err(
                "pauses, disk stalls and conditional wipes are sweep faults, not lesson steps"
                    .into(),
            )
        }
    })
}

impl LessonMode {
    /// The catalog lesson `name` (or a unique prefix such as `01`), after `steps` steps.
    pub fn open(name: &str, steps: usize) -> Result<LessonMode, String> {
        let (_, text) = zablab_core::lesson::find(name).map_err(|e| e.to_string())?;
        let run = LessonRun::new(parse(text)?).map_err(|e| e.to_string())?;
        let mut m = LessonMode::with_run(run);
        m.goto(steps);
        Ok(m)
    }

    fn with_run(run: LessonRun) -> LessonMode {
        let bands = new_bands(run.cluster().ensemble().all());
        let steps = run.step_count();
        let mut m = LessonMode {
            run,
            exercise: None,
            result: None,
            tries: 0,
            answers: vec![None; steps],
            bands,
            bands_records: 0,
        };
        m.refresh();
        m
    }

    pub fn name(&self) -> &str {
        &self.run.lesson().name
    }
    pub fn cluster(&self) -> &LabCluster {
        self.run.cluster()
    }
    pub fn steps_played(&self) -> usize {
        self.run.steps_played()
    }
    pub fn step_count(&self) -> usize {
        self.run.step_count()
    }
    /// The report of the step shown (the one played last).
    pub fn report(&self) -> Option<&StepReport> {
        let i = self.steps_played().checked_sub(1)?;
        self.run.reports().get(i)
    }

    /// Keeps the bands in step with the trace (from scratch after a rewind).
    fn refresh(&mut self) {
        let records = self.run.cluster().trace().records();
        if records.len() < self.bands_records {
            self.bands = new_bands(self.run.cluster().ensemble().all());
            self.bands_records = 0;
        }
        extend_bands(&mut self.bands, records, self.bands_records);
        self.bands_records = records.len();
    }

    /// Plays the next step (not during an exercise). False at the end.
    pub fn next(&mut self) -> bool {
        if self.exercise.is_some() {
            return false;
        }
        let played = self.run.step_forward().is_some();
        self.refresh();
        played
    }

    /// Shows the state after `steps` steps; leaves any exercise.
    pub fn goto(&mut self, steps: usize) {
        if self.exercise.is_some() {
            self.exercise = None;
            self.result = None;
            if let Ok(fresh) = LessonRun::new(self.run.lesson().clone()) {
                self.run = fresh;
            }
        }
        self.run.goto(steps);
        self.refresh();
    }

    /// Back one step (re-runs the lesson from its seed).
    pub fn back(&mut self) {
        let n = self.steps_played().saturating_sub(1);
        self.goto(n);
    }

    /// Checks the student's answer to step `step`'s question.
    pub fn answer(&mut self, step: usize, given: &str) -> Option<bool> {
        let ok = self.run.check_answer(step, given)?;
        if let Some(slot) = self.answers.get_mut(step) {
            *slot = Some((given.to_string(), ok));
        }
        Some(ok)
    }

    /// Starts free play on exercise `index`, from where the exercise says.
    pub fn start_exercise(&mut self, index: usize) -> Result<(), String> {
        let run =
            LessonRun::for_exercise(self.run.lesson().clone(), index).map_err(|e| e.to_string())?;
        let answers = std::mem::take(&mut self.answers);
        *self = LessonMode::with_run(run);
        self.answers = answers;
        self.exercise = Some(index);
        Ok(())
    }

    /// Checks the exercise in free play against the run.
    pub fn check(&mut self) -> Option<&ExerciseResult> {
        let i = self.exercise?;
        self.result = self.run.check_exercise(i);
        self.tries += 1;
        self.result.as_ref()
    }

    /// Free play: a lab button (kill, restart, cut, …) on the lesson's cluster.
    pub fn act(&mut self, a: &LabAction) -> Result<(), String> {
        let r = self.run.apply(&step_action(a)?);
        self.refresh();
        r
    }

    /// Free play: lets `ms` of virtual time pass.
    pub fn run_for(&mut self, ms: u64) {
        if ms > 0 {
            let _ = self.run.apply(&StepAction::RunFor(ms));
            self.refresh();
        }
    }

    /// Free play: a client write to `server` (the page's client on that server connects
    /// first). `set` chooses setData over create. The reply comes as time passes.
    pub fn write(&mut self, server: Sid, set: bool, path: &str, data: &str) -> Result<(), String> {
        let client = format!("ui{server}");
        if self.run.client_id(&client).is_none() {
            self.run.apply(&StepAction::Connect {
                client: client.clone(),
                server,
                timeout_ms: crate::page_client::SESSION_TIMEOUT_MS,
                hosts: Vec::new(),
                ip: None,
            })?;
            match self.run.last_result(&client).as_deref() {
                Some("ok") | None => {}
                Some(other) => {
                    self.refresh();
                    return Err(format!(
                        "the client could not connect to S{server}: {other}"
                    ));
                }
            }
        }
        let op = ClientOp {
            client,
            path: path.to_string(),
            data: Some(data.to_string()),
            no_wait: true,
            ..ClientOp::default()
        };
        let r = self.run.apply(&if set {
            StepAction::Set(op)
        } else {
            StepAction::Create(op)
        });
        self.refresh();
        r
    }

    /// The message flow to show: the step's messages, or the latest ones during free play.
    pub fn flow(&self, lang: Lang) -> Vec<String> {
        if self.exercise.is_some() {
            let mut lines: Vec<String> = self
                .run
                .messages()
                .iter()
                .rev()
                .filter(|m| m.kind != "PING")
                .take(FREE_PLAY_FLOW_LINES)
                .map(|m| flow_line(m, lang))
                .collect();
            lines.reverse();
            return lines;
        }
        match self.report() {
            Some(r) => flow_lines(
                &self.run,
                r.first_record,
                r.last_record,
                lang,
                FlowOptions::default(),
            ),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zablab_core::sim::Action;

    fn state(m: &LessonMode, sid: Sid) -> &'static str {
        m.cluster()
            .peer(sid)
            .map(|p| p.state().name())
            .unwrap_or("DOWN")
    }

    #[test]
    fn lesson_one_plays_to_the_end_and_back_rewinds_exactly() {
        let mut m = LessonMode::open("01", 0).expect("lesson 01");
        while m.next() {
            assert!(m.report().expect("a report").check.passed());
            assert!(!m.flow(Lang::En).is_empty());
        }
        assert_eq!(m.steps_played(), m.step_count());
        assert_eq!(m.cluster().leader(), Some(2));
        assert_eq!(state(&m, 3), "FOLLOWING");
        let end = m.cluster().trace().hash();
        let before_last = {
            let again = LessonMode::open("01", m.step_count() - 1).expect("lesson 01");
            again.cluster().trace().hash()
        };
        m.back();
        assert_eq!(m.steps_played(), m.step_count() - 1);
        assert_eq!(m.cluster().trace().hash(), before_last);
        assert_eq!(state(&m, 3), "DOWN");
        assert!(m.next());
        assert_eq!(m.cluster().trace().hash(), end);
        assert_eq!(m.answer(2, " 2 "), Some(true));
        assert_eq!(m.answer(2, "1"), Some(false));
        assert_eq!(m.answer(0, "1"), None, "step 1 asks nothing");
    }

    #[test]
    fn a_prediction_is_checked_once_its_step_has_run() {
        // Predict first: the app shows step 2's question after step 1 and, on an answer,
        // plays step 2 and only then checks it (before that there is nothing to check).
        let mut m = LessonMode::open("01", 1).expect("lesson 01");
        let q = m.run.lesson().steps[1]
            .question
            .clone()
            .expect("step 2 asks");
        assert!(q.text(Lang::En).contains("will"), "a prediction: {}", q.en);
        assert_eq!(m.answer(1, "2"), None, "step 2 has not run");
        assert_eq!(m.answers[1], None);
        assert!(m.next());
        assert_eq!(m.answer(1, "2"), Some(true));
        assert_eq!(m.answers[1], Some(("2".to_string(), true)));
    }

    #[test]
    fn an_exercise_gives_the_hint_after_a_wrong_try_and_passes_with_the_solution() {
        let mut m = LessonMode::open("01", 4).expect("lesson 01");
        m.start_exercise(0).expect("exercise 0");
        for a in [Action::Start(1), Action::Start(2)] {
            m.act(&a).expect("an action");
        }
        m.run_for(3000);
        let r = m.check().expect("a verdict").clone();
        assert!(!r.passed);
        assert!(r.hint.is_some());
        m.start_exercise(0).expect("exercise 0");
        m.act(&Action::Start(3)).expect("start 3");
        m.act(&Action::Start(1)).expect("start 1");
        m.run_for(3000);
        m.act(&Action::Start(2)).expect("start 2");
        m.run_for(3000);
        assert!(m.check().expect("a verdict").passed);
        assert!(!m.flow(Lang::Zh).is_empty());
        assert!(m.act(&Action::Sync { server: 1 }).is_err());
        assert!(m.write(9, false, "/a", "x").is_err(), "no server 9");
        m.write(2, false, "/a", "x").expect("a write");
        m.run_for(1000);
        let leader = m.cluster().leader().expect("a leader");
        let tree = m.cluster().peer(leader).expect("the leader").machine();
        assert!(tree.exists(&[], "/a").is_ok());
        m.goto(1);
        assert_eq!((m.exercise, m.steps_played()), (None, 1));
    }

    #[test]
    fn bad_names_are_errors() {
        assert!(LessonMode::open("99", 0).is_err());
        assert!(LessonMode::open("", 0).is_err());
        let mut m = LessonMode::open("01", 100).expect("steps are clamped");
        assert_eq!(m.steps_played(), m.step_count());
        assert!(m.start_exercise(7).is_err());
    }
}
