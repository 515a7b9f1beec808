//! The lab's lesson mode, free of any browser type: a [`LessonRun`] of the core (the lesson's
//! own `ZkCluster`, clients, checkpoints, questions and exercises), the step shown, the
//! student's answers and exercise tries, and the timeline bands of the run. Everything a
//! lesson shows or checks comes from `zablab_core::lesson`; this module only maps the lab's
//! buttons onto the lesson's actions.
//!
//! Back re-runs the lesson from its seed up to the previous step ([`LessonRun::goto`]): runs are
//! deterministic, so what the page shows after Back is exactly what it showed before Next.
//!
//! Next animates: the step is played at once (its report, checkpoint and answer are ready), and
//! a [`Playback`] then shows the step's visible events one after the other at the chosen speed.
//! Each picture is a copy of the run before the step replayed with a record budget
//! ([`LessonRun::play_partial`]), so it is the real state after that event, never a guess.

use zablab_core::lesson::text::flow_line;
use zablab_core::lesson::{
    ClientOp, ExerciseResult, Lang, Lesson, LessonError, LessonRun, LinkSpec, StepAction,
    StepReport,
};
use zablab_core::sim::HostEvent;
use zablab_core::Sid;

use crate::lab::{extend_bands, new_bands, BandRow, LabAction, LabCluster};

/// How many messages the flow panel lists during free play (the latest ones).
const FREE_PLAY_FLOW_LINES: usize = 18;
/// The playback speeds offered (events per second of wall time); the default is the second.
pub const SPEEDS: [(u32, &str, &str); 4] = [
    (3, "slow", "慢"),
    (8, "normal", "正常"),
    (20, "fast", "快"),
    (60, "very fast", "很快"),
];
/// How many times slower the animation goes while a highlighted message is on the wire.
const DWELL_SLOWDOWN: f64 = 3.0;
/// At most this many pictures per step: a longer step is shown in groups of events (a step
/// that writes fifteen nodes would take minutes otherwise).
const MAX_STOPS: usize = 400;

/// Whether a trace record changes the picture: a message appears, arrives or is lost, a server
/// starts, stops or changes role or phase, a link changes, a client gets an answer. Timers and
/// disk writes show through the next such event.
fn visible(e: &HostEvent) -> bool {
    use zablab_core::trace::TraceEvent as T;
    match e {
        HostEvent::Send { kind, .. } | HostEvent::Deliver { kind, .. } => kind != "PING",
        HostEvent::Peer(p) => matches!(
            p,
            T::StateChanged { .. }
                | T::PhaseChanged { .. }
                | T::SyncChosen { .. }
                | T::LeaderEstablished { .. }
                | T::Committed { .. }
        ),
        HostEvent::Drop { .. }
        | HostEvent::Started
        | HostEvent::Crashed
        | HostEvent::Restarted
        | HostEvent::Wiped
        | HostEvent::Paused { .. }
        | HostEvent::LinkChanged { .. }
        | HostEvent::ClientReply { .. }
        | HostEvent::ClientFailed { .. } => true,
        _ => false,
    }
}

/// A step being shown event by event.
pub struct Playback {
    /// The run before the step.
    base: LessonRun,
    /// Per picture: how many records into the step it shows (ending on a visible one), and
    /// the virtual time of that record.
    stops: Vec<(usize, f64)>,
    /// Position among the stops (fractional: the time between two pictures glides).
    at: f64,
    pub paused: bool,
    /// The picture shown: its stop index and the partial run.
    shown: Option<(usize, LessonRun)>,
    /// A message the step points at is on the wire in the picture: the animation slows down
    /// so the class sees it travel.
    dwell: bool,
}

impl Playback {
    /// The stop shown (0-based) and how many there are.
    pub fn position(&self) -> (usize, usize) {
        (self.at.floor() as usize, self.stops.len())
    }
    /// How many records into the step the picture is.
    pub fn event(&self) -> usize {
        self.stops
            .get(self.at.floor() as usize)
            .map(|s| s.0)
            .unwrap_or(0)
    }
}

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
    /// The step being animated, if any.
    pub play: Option<Playback>,
    /// Events per second of the animation.
    pub speed: u32,
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
        Action::Reconfig { .. } => return Err("reconfig is not a lesson step yet".into()),
        Action::Pause { .. } | Action::StallDisk { .. } | Action::WipeIfRedundant { .. } => {
            return Err(
                "pauses, disk stalls and conditional wipes are sweep faults, not lesson steps"
                    .into(),
            )
        }
    })
}

impl LessonMode {
    /// The lesson in `text` (a lesson file, fetched by the page from `dist/lessons/`), after
    /// `steps` steps.
    pub fn from_file(text: &str, steps: usize) -> Result<LessonMode, String> {
        let run = LessonRun::new(parse(text)?).map_err(|e| e.to_string())?;
        let mut m = LessonMode::with_run(run);
        m.goto(steps);
        Ok(m)
    }

    /// The catalog lesson `name` (or a unique prefix such as `01`) from the files the core
    /// embeds, after `steps` steps: for the native tests only (the browser fetches the file,
    /// so that the twenty lesson files are not in the lessons module).
    #[cfg(test)]
    pub fn open(name: &str, steps: usize) -> Result<LessonMode, String> {
        let (_, text) = zablab_core::lesson::find(name).map_err(|e| e.to_string())?;
        LessonMode::from_file(text, steps)
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
            play: None,
            speed: SPEEDS[1].0,
        };
        m.refresh();
        m
    }

    pub fn name(&self) -> &str {
        &self.run.lesson().name
    }
    /// The cluster on screen: during an animation, the picture of the event shown.
    pub fn cluster(&self) -> &LabCluster {
        match &self.play {
            Some(p) => match &p.shown {
                Some((_, r)) => r.cluster(),
                None => p.base.cluster(),
            },
            None => self.run.cluster(),
        }
    }
    /// What the step shown points at (nothing during free play).
    pub fn highlight(&self) -> Option<&zablab_core::lesson::Highlight> {
        if self.exercise.is_some() {
            return None;
        }
        let i = self.steps_played().checked_sub(1)?;
        let h = &self.run.lesson().steps.get(i)?.highlight;
        (!h.is_empty()).then_some(h)
    }
    /// True while a step is being animated (its checkpoint and answer are not shown yet).
    pub fn animating(&self) -> bool {
        self.play.is_some()
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
        let shown = match &self.play {
            Some(p) => match &p.shown {
                Some((_, r)) => r,
                None => &p.base,
            },
            None => &self.run,
        };
        let records = shown.cluster().trace().records();
        if records.len() < self.bands_records {
            self.bands = new_bands(shown.cluster().ensemble().all());
            self.bands_records = 0;
        }
        extend_bands(&mut self.bands, records, self.bands_records);
        self.bands_records = records.len();
    }

    /// Plays the next step at once (not during an exercise). False at the end.
    pub fn next(&mut self) -> bool {
        if self.exercise.is_some() {
            return false;
        }
        self.play = None;
        let played = self.run.step_forward().is_some();
        self.refresh();
        played
    }

    /// Plays the next step and starts animating it. False at the end (or in an exercise).
    pub fn next_animated(&mut self) -> bool {
        if self.exercise.is_some() || self.run.is_done() {
            return false;
        }
        self.play = None;
        let base = self.run.clone();
        self.next();
        self.start_playback(base, None)
    }

    /// Animates the step shown last from `base` (the run before it), paused at the picture
    /// of record `at_record` if given. False if the step has nothing to show.
    fn start_playback(&mut self, base: LessonRun, at_record: Option<usize>) -> bool {
        let Some(r) = self.report() else {
            return false;
        };
        let (first, last) = (r.first_record, r.last_record);
        let records = self.run.cluster().trace().records();
        let mut stops: Vec<(usize, f64)> = records[first..last]
            .iter()
            .enumerate()
            .filter(|(_, rec)| visible(&rec.event))
            .map(|(k, rec)| (k + 1, rec.time.0 as f64))
            .collect();
        if stops.len() > MAX_STOPS {
            let every = stops.len().div_ceil(MAX_STOPS);
            stops = stops.into_iter().step_by(every).collect();
        }
        if stops.is_empty() {
            return false;
        }
        let (at, paused) = match at_record {
            Some(rec) => {
                let k = rec.saturating_sub(first) + 1;
                let i = stops
                    .iter()
                    .position(|s| s.0 >= k)
                    .unwrap_or(stops.len() - 1);
                (i as f64, true)
            }
            None => (0.0, false),
        };
        self.play = Some(Playback {
            base,
            stops,
            at,
            paused,
            shown: None,
            dwell: false,
        });
        self.show_stop();
        true
    }

    /// Replays the picture for the current stop if it is not the one shown.
    fn show_stop(&mut self) {
        let Some(p) = &mut self.play else { return };
        let i = p.at.floor() as usize;
        if p.shown.as_ref().is_some_and(|(j, _)| *j == i) {
            return;
        }
        let Some(&(events, _)) = p.stops.get(i) else {
            return;
        };
        let mut r = p.base.clone();
        r.play_partial(events);
        let steps = &self.run.lesson().steps;
        let marked = self
            .run
            .steps_played()
            .checked_sub(1)
            .and_then(|i| steps.get(i))
            .map_or(&[][..], |s| &s.highlight.messages[..]);
        p.dwell = r
            .cluster()
            .in_flight()
            .iter()
            .any(|m| marked.iter().any(|k| k == m.msg.kind()));
        p.shown = Some((i, r));
        self.refresh();
    }

    /// During an animation: the send record of the last message sent up to the event shown.
    pub fn flow_cursor(&self) -> Option<usize> {
        let p = self.play.as_ref()?;
        let first = self.report()?.first_record;
        let shown = p.shown.as_ref().map_or(&p.base, |(_, r)| r);
        let last = shown.cluster().trace().records().len();
        self.run
            .messages()
            .iter()
            .filter(|m| m.kind != "PING" && m.sent_record >= first && m.sent_record < last)
            .map(|m| m.sent_record)
            .next_back()
    }

    /// Advances the animation by `wall_ms` of wall time; returns the virtual time to show.
    pub fn advance(&mut self, wall_ms: f64) -> f64 {
        let speed = self.speed as f64;
        if let Some(p) = &mut self.play {
            if !p.paused {
                let slow = if p.dwell { DWELL_SLOWDOWN } else { 1.0 };
                p.at += wall_ms * speed / slow / 1000.0;
            }
            if p.at >= p.stops.len() as f64 {
                self.finish();
                return self.run.cluster().now().0 as f64;
            }
        }
        self.show_stop();
        self.view_time()
    }

    /// The virtual time of the picture: between two stops it glides from one event's time to
    /// the next, so messages on the wire move.
    pub fn view_time(&self) -> f64 {
        match &self.play {
            Some(p) => {
                let i = p.at.floor() as usize;
                let frac = p.at - i as f64;
                let t0 = p.stops.get(i).map(|s| s.1).unwrap_or(0.0);
                let t1 = p.stops.get(i + 1).map(|s| s.1).unwrap_or(t0);
                t0 + (t1 - t0) * frac
            }
            None => self.run.cluster().now().0 as f64,
        }
    }

    /// Skip to the end of the step being animated.
    pub fn finish(&mut self) {
        if self.play.take().is_some() {
            self.refresh();
        }
    }

    /// Pauses or resumes the animation.
    pub fn toggle_pause(&mut self) {
        if let Some(p) = &mut self.play {
            p.paused = !p.paused;
        }
    }

    /// Shows the picture of trace record `record` of the step shown last (a click on a
    /// message of the flow list), paused there; re-runs the lesson up to the step before.
    pub fn seek_record(&mut self, record: usize) {
        if self.exercise.is_some() {
            return;
        }
        if let Some(p) = &mut self.play {
            let first = self.run.reports().last().map_or(0, |r| r.first_record);
            let k = record.saturating_sub(first) + 1;
            p.at = p.stops.iter().position(|s| s.0 >= k).unwrap_or(0) as f64;
            p.paused = true;
            self.show_stop();
            return;
        }
        let Some(n) = self.steps_played().checked_sub(1) else {
            return;
        };
        let Ok(mut base) = LessonRun::new(self.run.lesson().clone()) else {
            return;
        };
        base.goto(n);
        self.start_playback(base, Some(record));
    }

    /// Shows the state after `steps` steps; leaves any exercise.
    pub fn goto(&mut self, steps: usize) {
        self.play = None;
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
        let speed = self.speed;
        *self = LessonMode::with_run(run);
        self.answers = answers;
        self.speed = speed;
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

    /// The message flow to show: the step's messages (during an animation, those sent up to
    /// the event shown, with their fate at that moment), or the latest ones during free play.
    pub fn flow(&self, lang: Lang) -> Vec<FlowEntry> {
        if self.exercise.is_some() {
            let mut lines: Vec<FlowEntry> = self
                .run
                .messages()
                .iter()
                .rev()
                .filter(|m| m.kind != "PING")
                .take(FREE_PLAY_FLOW_LINES)
                .map(|m| FlowEntry::of(m, lang))
                .collect();
            lines.reverse();
            return lines;
        }
        let Some(r) = self.report() else {
            return Vec::new();
        };
        // During an animation: what the picture's run has sent (a budget ends after the whole
        // event it falls in, so this can be a little past the stop).
        let (run, last) = match &self.play {
            Some(p) => {
                let shown = p.shown.as_ref().map_or(&p.base, |(_, r)| r);
                (shown, shown.cluster().trace().records().len())
            }
            None => (&self.run, r.last_record),
        };
        let mut out: Vec<FlowEntry> = Vec::new();
        let mut pings = 0;
        let mut hidden = 0;
        for m in run
            .messages()
            .iter()
            .filter(|m| m.sent_record >= r.first_record && m.sent_record < last)
        {
            if m.kind == "PING" {
                pings += 1;
                continue;
            }
            let e = FlowEntry::of(m, lang);
            let full = out.len() >= MAX_FLOW_LINES;
            match out.last_mut() {
                // Runs of the same message (a notification to every server) fold into one line.
                Some(prev) if prev.body() == e.body() => prev.count += 1,
                _ if full => hidden += 1,
                _ => out.push(e),
            }
        }
        let note = |line: String| FlowEntry {
            line,
            record: None,
            count: 1,
        };
        if hidden > 0 {
            out.push(note(format!(
                "… {hidden} {}",
                crate::view_lesson::tr(lang, "more messages", "条更多消息")
            )));
        }
        if pings > 0 {
            out.push(note(format!("(+ {pings} PING)")));
        }
        if out.is_empty() {
            out.push(note(
                crate::view_lesson::tr(lang, "(no messages)", "（没有消息）").to_string(),
            ));
        }
        out
    }
}

/// At most this many lines in the step's message list.
const MAX_FLOW_LINES: usize = 60;

/// One line of the message list: the text, the trace record of the send (a click shows that
/// moment), and how many identical messages it stands for.
#[derive(Clone, PartialEq, Debug)]
pub struct FlowEntry {
    pub line: String,
    pub record: Option<usize>,
    pub count: usize,
}

impl FlowEntry {
    fn of(m: &zablab_core::lesson::FlowMessage, lang: Lang) -> FlowEntry {
        FlowEntry {
            line: flow_line(m, lang).trim_start().to_string(),
            record: Some(m.sent_record),
            count: 1,
        }
    }
    /// The line without its time (what two identical messages share).
    fn body(&self) -> &str {
        self.line.split_once(" ms").map_or("", |(_, b)| b)
    }
    /// The line as shown (`×3` for a folded run).
    pub fn text(&self) -> String {
        if self.count > 1 {
            format!("{}  ×{}", self.line, self.count)
        } else {
            self.line.clone()
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
        assert_eq!(m.answer(2, " FOLLOWING "), Some(true));
        assert_eq!(m.answer(2, "LEADING"), Some(false));
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
    fn next_animates_the_step_event_by_event_and_ends_on_the_full_step() {
        let mut plain = LessonMode::open("06", 3).expect("lesson 06");
        plain.next();
        let end = plain.cluster().trace().hash();
        let mut m = LessonMode::open("06", 3).expect("lesson 06");
        m.speed = 20;
        assert!(m.next_animated());
        assert!(m.animating());
        let mut records = Vec::new();
        let mut saw_trunc = false;
        let mut t = 0.0;
        for _ in 0..10_000 {
            if !m.animating() {
                break;
            }
            let now = m.advance(16.0);
            assert!(now >= t, "time never goes back");
            t = now;
            records.push(m.cluster().trace().records().len());
            saw_trunc |= m
                .cluster()
                .in_flight()
                .iter()
                .any(|f| f.msg.kind() == "TRUNC");
        }
        assert!(!m.animating(), "the animation ends");
        assert!(saw_trunc, "a picture shows the TRUNC on the wire");
        records.dedup();
        assert!(records.len() > 5, "{} distinct pictures", records.len());
        assert!(records.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(m.cluster().trace().hash(), end);
        assert!(m.report().expect("a report").check.passed());
        let h = m.highlight().expect("step 4 points at things");
        assert_eq!(h.servers, vec![3]);
        assert!(h.messages.iter().any(|k| k == "TRUNC"));
    }

    #[test]
    fn a_message_of_the_list_shows_its_moment_paused_and_skip_ends_the_step() {
        let mut m = LessonMode::open("01", 3).expect("lesson 01");
        let end_ms = m.cluster().now().0 as f64;
        let flow = m.flow(Lang::En);
        let e = flow.get(1).expect("two messages in step 3").clone();
        let record = e.record.expect("a message");
        let sent_ms: f64 = e.line.split_whitespace().next().unwrap().parse().unwrap();
        m.seek_record(record);
        assert!(m.animating());
        assert!(m.play.as_ref().is_some_and(|p| p.paused));
        assert_eq!(m.view_time(), sent_ms);
        assert!(m.view_time() < end_ms);
        assert_eq!(m.flow_cursor(), Some(record));
        // Paused: time does not move.
        assert_eq!(m.advance(500.0), sent_ms);
        assert!(m.cluster().trace().records().len() > record);
        m.finish();
        assert!(!m.animating());
        assert_eq!(m.view_time(), end_ms);
        assert!(m.flow(Lang::En).len() >= flow.len());
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
