//! The Yew component that owns the [`Lab`] and turns clicks, keys and animation ticks into
//! simulator steps. Views are in `view_*.rs`, the browser glue in `browser.rs`, the page's
//! client sessions in `page_client.rs`.
//!
//! Time: at speed 1×, one millisecond of virtual time takes [`WALL_MS_PER_VIRTUAL_MS`] ms on the
//! wall clock, so a message's flight (15–35 ms virtual) is visible and an election takes a few
//! seconds.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use zablab_core::sim::{Action, Scenario};
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::{CreateRequest, SetDataRequest, WriteOp};
use zablab_core::Sid;

use zablab_core::lesson::Lang;

use crate::browser::{base_url, location, now_ms, remembered_lang, replace_url};
use crate::lab::{lab_config, Lab, LabAction, LabCluster, LabScenario};
use crate::lesson::LessonMode;
use crate::museum::MuseumRun;
use crate::page_client::PageClients;
use crate::share;
use crate::show::message_fields;

mod lessons;
mod museum;

pub const WALL_MS_PER_VIRTUAL_MS: f64 = 10.0;
/// At most this many events per animation frame (then the view time waits for the simulator).
const MAX_STEPS_PER_FRAME: u64 = 50_000;
/// What the Step button lets pass during an exercise's free play (virtual ms).
const FREE_PLAY_STEP_MS: u64 = 20;
/// The bug museum plays at this speed unless the address says otherwise.
const MUSEUM_SPEED: f64 = 4.0;

#[derive(Clone, PartialEq)]
pub struct MsgSnapshot {
    pub from: Sid,
    pub to: Sid,
    pub msg_id: u64,
    pub sent: u64,
    pub arrives: u64,
    pub fields: Vec<(String, String)>,
}

#[derive(Clone, PartialEq)]
pub enum Selection {
    None,
    Server(Sid),
    Message(MsgSnapshot),
    Link(Sid, Sid),
}

#[derive(Clone, Copy, PartialEq)]
pub enum WriteKind {
    Create,
    SetData,
}

#[derive(Clone, PartialEq)]
pub struct WriteForm {
    pub server: Sid,
    pub kind: WriteKind,
    pub path: String,
    pub data: String,
}

#[derive(Clone, PartialEq)]
pub struct SetupForm {
    pub participants: u64,
    pub observers: u64,
    pub seed: u64,
}

pub enum Field {
    WriteServer(Sid),
    WriteKind(WriteKind),
    WritePath(String),
    WriteData(String),
    LinkDelay(u64),
    LinkDropPct(f64),
    Participants(u64),
    Observers(u64),
    Seed(u64),
}

pub enum Msg {
    Tick,
    TogglePlay,
    Step,
    StepBack,
    Speed(f64),
    Seek(u64),
    Select(Selection),
    SelectMessage(u64),
    Act(LabAction),
    SendWrite,
    ApplyLinkSettings(Sid, Sid),
    Form(Field),
    NewRun,
    Branch(usize),
    Share,
    Export,
    Import(String),
    ImportError(String),
    ToggleLarge,
    /// The diagram's box was measured (CSS px).
    Resize(f64, f64),
    TogglePresent,
    /// Timeline zoom: a factor to multiply by (0: the whole run).
    Zoom(f64),
    Key(String),
    Lesson(LessonMsg),
    Museum(MuseumMsg),
    StageView(StageView),
    ToggleTimers,
}

/// What the stage shows: the diagram, every log side by side, or both.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StageView {
    Diagram,
    Logs,
    Both,
}

/// The bug museum's buttons (`museum.rs`; the lab page has only the picker).
#[cfg_attr(not(feature = "museum"), allow(dead_code))]
pub enum MuseumMsg {
    /// Open an exhibit by name (empty: back to the free lab).
    Pick(String),
    /// Replay the exhibit with the fix on (`true`) or the bug on.
    SetFixed(bool),
    Replay,
}

/// The lesson slot's buttons. (Without the `lessons` feature only the picker and the language
/// switch exist.)
#[cfg_attr(not(feature = "lessons"), allow(dead_code))]
pub enum LessonMsg {
    /// Open a catalog lesson (empty: back to the free lab).
    Pick(String),
    /// Open a catalog lesson (a name or a unique prefix) at a step: the lesson of the address.
    Open(String, usize),
    /// A lesson's file arrived (or could not be fetched): open it at the step.
    Loaded {
        name: &'static str,
        steps: usize,
        picked: bool,
        file: Result<String, String>,
    },
    Next,
    Back,
    Lang(Lang),
    AnswerDraft(String),
    /// Check the draft (or a choice, if given) against step `n`'s question.
    Answer(usize, Option<String>),
    Exercise(usize),
    Check,
    RunFor(u64),
    /// Leave the exercise: back to the lesson's last step.
    EndExercise,
    /// The animation of a step: events per second, skip to its end, pause or resume, and
    /// show the moment of a trace record (a click on the message list).
    PlaySpeed(u32),
    Skip,
    PausePlayback,
    ShowRecord(usize),
}

pub struct App {
    pub lab: Lab,
    /// The virtual time shown (fractional between events, for smooth motion).
    pub view_t: f64,
    pub playing: bool,
    pub speed: f64,
    last_tick: Option<f64>,
    tick_started: f64,
    pub frame_ms: f64,
    pub selection: Selection,
    pub error: Option<String>,
    violation_paused: bool,
    pub large: bool,
    pub write: WriteForm,
    pub link_delay_ms: u64,
    pub link_drop_pct: f64,
    pub setup: SetupForm,
    pub share_url: Option<String>,
    /// The lesson shown, if any: the cluster view then shows the lesson's run.
    pub lesson: Option<LessonMode>,
    /// The lesson whose file is being fetched, if any (the lessons module fetches each lesson
    /// when it is opened); a file that arrives for another name is dropped.
    pub loading: Option<&'static str>,
    pub lang: Lang,
    pub answer_draft: String,
    /// The diagram's measured box (CSS px): the drawing's user unit is one CSS pixel.
    pub stage_px: (f64, f64),
    /// Present mode: the diagram full screen, a status bar, the keyboard only.
    pub present: bool,
    /// Trace records from here on are what the last step executed (marked in the drawing).
    pub mark_from: Option<usize>,
    /// The timeline shows 1/`timeline_zoom` of the run, around the cursor.
    pub timeline_zoom: f64,
    /// The bug museum's exhibit shown, if any (the lab's branch runs its scenario).
    pub museum: Option<MuseumRun>,
    pub stage_view: StageView,
    pub show_timers: bool,
    /// The page's client sessions in the free lab (one per server).
    page: PageClients,
    _timer: gloo_timers::callback::Interval,
    _keys: Option<Closure<dyn Fn(KeyboardEvent)>>,
}

fn default_scenario(seed: u64) -> LabScenario {
    Scenario {
        config: lab_config(3, 0),
        seed,
        actions: Vec::new(),
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let (search, hash) = location();
        let opened = share::parse_location(&search, &hash);
        let bench = crate::bench::init(opened.bench.as_deref());
        let mut museum_error = None;
        let museum = match crate::museum::from_search(&search) {
            Some(Ok((exhibit, fixed))) if cfg!(feature = "museum") => {
                Some(MuseumRun { exhibit, fixed })
            }
            Some(Ok(_)) => {
                museum_error = Some("the bug museum is not in this build: reload the page".into());
                None
            }
            Some(Err(e)) => {
                museum_error = Some(e);
                None
            }
            None => None,
        };
        let scenario = bench
            .or_else(|| museum.map(|r| crate::museum::EXHIBITS[r.exhibit].scenario(r.fixed)))
            .or(opened.scenario.clone())
            .unwrap_or_else(|| default_scenario(1));
        let setup = SetupForm {
            participants: scenario.config.participants,
            observers: scenario.config.observers,
            seed: scenario.seed,
        };
        let mut lab = Lab::new(scenario);
        let mut view_t = 0.0;
        if let Some(run) = opened.run.as_ref().filter(|r| !r.branches.is_empty()) {
            // A whole shared lab: its branches, the one shown, then the moment below.
            let (restored, t) = share::restore(run);
            lab = restored;
            view_t = t;
        }
        if let Some(n) = opened.until_steps {
            lab.seek_steps(n);
            // The exact instant: the view may sit between this event and the next.
            let now = lab.now_ms() as f64;
            let next = lab.cluster().next_event_time().map(|t| t.0 as f64);
            view_t = match (opened.view_ms, next) {
                (Some(v), Some(next)) if v >= now && v < next => v,
                (Some(v), None) if v >= now => v,
                _ => now,
            };
        } else if let Some(t) = opened.until_ms {
            lab.run_to(t);
            view_t = t as f64;
        }
        let mut error = opened.error;
        if let Some(e) = museum_error {
            error.get_or_insert(e);
        }
        // The lesson of the address opens when its file has arrived (a message to `update`).
        if let Some(name) = &opened.lesson {
            let steps = opened.step.unwrap_or(0);
            ctx.link()
                .send_message(Msg::Lesson(LessonMsg::Open(name.clone(), steps)));
        }
        let lang = opened.lang.unwrap_or_else(remembered_lang);
        let stopped =
            opened.until_ms.is_some() || opened.until_steps.is_some() || opened.lesson.is_some();
        let link = ctx.link().clone();
        let timer = gloo_timers::callback::Interval::new(16, move || link.send_message(Msg::Tick));
        let link = ctx.link().clone();
        let keys = Closure::<dyn Fn(KeyboardEvent)>::new(move |e: KeyboardEvent| {
            let typing = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .map(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"))
                .unwrap_or(false);
            if typing {
                return;
            }
            let key = e.key();
            if matches!(
                key.as_str(),
                " " | "ArrowRight" | "ArrowLeft" | "p" | "P" | "Escape"
            ) {
                e.prevent_default();
                link.send_message(Msg::Key(key));
            }
        });
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            let _ = doc.add_event_listener_with_callback("keydown", keys.as_ref().unchecked_ref());
        }
        crate::present::on_resize(ctx);
        if opened.panic_test {
            panic!("a deliberate panic (?panic=test), to show the error panel");
        }
        if let Some(p) = opened.picked {
            ctx.link().send_message(crate::present::pick(p));
        }
        App {
            lab,
            view_t,
            playing: !stopped && !opened.paused,
            speed: opened
                .speed
                .unwrap_or(if museum.is_some() { MUSEUM_SPEED } else { 1.0 }),
            last_tick: None,
            tick_started: 0.0,
            frame_ms: 0.0,
            selection: Selection::None,
            error,
            violation_paused: false,
            large: opened.large,
            write: WriteForm {
                server: 1,
                kind: WriteKind::Create,
                path: "/a".into(),
                data: "hello".into(),
            },
            link_delay_ms: 200,
            link_drop_pct: 0.0,
            setup,
            share_url: None,
            lesson: None,
            loading: None,
            lang,
            answer_draft: String::new(),
            stage_px: crate::present::first_stage_px(),
            present: opened.present,
            mark_from: None,
            timeline_zoom: 1.0,
            museum,
            stage_view: StageView::Diagram,
            show_timers: true,
            page: PageClients::default(),
            _timer: timer,
            _keys: Some(keys),
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Tick => return self.tick(),
            Msg::TogglePlay => self.playing = !self.playing,
            Msg::Step => self.step(),
            Msg::StepBack => self.step_back(),
            Msg::Speed(s) => self.speed = s.clamp(0.1, 100.0),
            Msg::Seek(_) if self.lesson.is_some() => return false,
            Msg::Seek(t) => {
                self.mark_from = None;
                self.lab.seek_time(t);
                self.view_t = t as f64;
            }
            Msg::Select(s) => self.selection = s,
            Msg::SelectMessage(id) => {
                let c = self.cluster();
                if let Some(m) = c.in_flight().into_iter().find(|m| m.msg_id == id) {
                    self.selection = Selection::Message(MsgSnapshot {
                        from: m.from,
                        to: m.to,
                        msg_id: m.msg_id,
                        sent: m.sent.0,
                        arrives: m.arrives.0,
                        fields: message_fields(m.msg),
                    });
                }
            }
            Msg::Act(a) => self.act(a),
            Msg::SendWrite => self.send_write(),
            Msg::ApplyLinkSettings(from, to) => {
                let drop_per_million =
                    (self.link_drop_pct.clamp(0.0, 100.0) * 10_000.0).round() as u32;
                for (a, b) in [(from, to), (to, from)] {
                    self.act(Action::SetLink {
                        from: a,
                        to: b,
                        extra_ms: self.link_delay_ms,
                        drop_per_million,
                    });
                }
            }
            Msg::Form(f) => match f {
                Field::WriteServer(s) => self.write.server = s,
                Field::WriteKind(k) => self.write.kind = k,
                Field::WritePath(p) => self.write.path = p,
                Field::WriteData(d) => self.write.data = d,
                Field::LinkDelay(d) => self.link_delay_ms = d.min(60_000),
                Field::LinkDropPct(p) => self.link_drop_pct = p.clamp(0.0, 100.0),
                Field::Participants(p) => self.setup.participants = p.clamp(1, share::MAX_SERVERS),
                Field::Observers(o) => self.setup.observers = o.min(share::MAX_SERVERS - 1),
                Field::Seed(s) => self.setup.seed = s,
            },
            Msg::NewRun => {
                let f = &self.setup;
                let observers = f.observers.min(share::MAX_SERVERS - f.participants);
                let s = Scenario {
                    config: lab_config(f.participants, observers),
                    seed: f.seed,
                    actions: Vec::new(),
                };
                self.load(s);
            }
            Msg::Branch(i) if self.lesson.is_some() => {
                self.lesson = None;
                self.lab.select_branch(i);
                self.view_t = self.lab.now_ms() as f64;
            }
            Msg::Branch(i) => {
                self.lab.select_branch(i);
                self.view_t = self.lab.now_ms() as f64;
            }
            Msg::Share => {
                let url = match &self.lesson {
                    Some(_) => self.lesson_link(),
                    None => self.share_link(),
                };
                replace_url(&url);
                self.share_url = Some(url);
            }
            Msg::Export => crate::files::download(
                "zablab-run.json",
                &share::to_json(&share::shared(&self.lab, self.view_t)),
            ),
            // The exported moment, paused: its branches, the one shown, the instant.
            Msg::Import(text) => match share::run_from_json(&text) {
                Ok(run) => {
                    self.load(run.scenario.clone());
                    let (lab, t) = share::restore(&run);
                    self.lab = lab;
                    self.view_t = t;
                    self.playing = run.at.is_none();
                }
                Err(e) => self.error = Some(e),
            },
            Msg::ImportError(e) => self.error = Some(e),
            Msg::ToggleLarge => self.large = !self.large,
            Msg::Resize(w, h) => {
                if (w - self.stage_px.0).abs() < 1.0 && (h - self.stage_px.1).abs() < 1.0 {
                    return false;
                }
                self.stage_px = (w, h);
            }
            Msg::TogglePresent => self.present = !self.present,
            Msg::Zoom(f) => {
                self.timeline_zoom = if f <= 0.0 {
                    1.0
                } else {
                    (self.timeline_zoom * f).clamp(1.0, 256.0)
                }
            }
            Msg::Key(k) => match k.as_str() {
                " " if self.lesson.as_ref().is_some_and(|m| m.animating()) => {
                    self.lesson_msg(ctx, LessonMsg::PausePlayback)
                }
                " " => self.playing = !self.playing,
                "ArrowRight" => self.step(),
                "ArrowLeft" => self.step_back(),
                "p" | "P" => self.present = !self.present,
                "Escape" if self.present => self.present = false,
                _ => return false,
            },
            Msg::Lesson(m) => self.lesson_msg(ctx, m),
            Msg::Museum(m) => self.museum_msg(m),
            Msg::StageView(v) => self.stage_view = v,
            Msg::ToggleTimers => self.show_timers = !self.show_timers,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        crate::view::page(self, ctx)
    }

    fn rendered(&mut self, ctx: &Context<Self>, _first: bool) {
        crate::present::after_render(self, ctx);
        if self.tick_started > 0.0 {
            let dt = now_ms() - self.tick_started;
            self.frame_ms = if self.frame_ms == 0.0 {
                dt
            } else {
                self.frame_ms * 0.9 + dt * 0.1
            };
            crate::bench::on_rendered(dt, self.lab.cluster().in_flight().len());
            self.tick_started = 0.0;
        }
    }
}

impl App {
    /// The cluster on screen: the lesson's run, or the lab's branch.
    pub fn cluster(&self) -> &LabCluster {
        match &self.lesson {
            Some(m) => m.cluster(),
            None => self.lab.cluster(),
        }
    }

    fn step(&mut self) {
        self.playing = false;
        self.mark_from = Some(self.cluster().trace().len() as usize);
        if let Some(m) = &mut self.lesson {
            if m.exercise.is_some() {
                m.run_for(FREE_PLAY_STEP_MS);
            } else if m.animating() {
                m.finish();
            } else {
                m.next_animated();
                self.answer_draft.clear();
                self.lesson_url();
            }
            self.sync_view_t();
            return;
        }
        self.lab.step_event();
        self.view_t = self.lab.now_ms() as f64;
    }

    fn step_back(&mut self) {
        self.playing = false;
        self.mark_from = None;
        if let Some(m) = &mut self.lesson {
            if m.exercise.is_none() {
                m.back();
                self.answer_draft.clear();
                self.lesson_url();
            }
            self.sync_view_t();
            return;
        }
        let s = self.lab.steps();
        self.lab.seek_steps(s.saturating_sub(1));
        self.view_t = self.lab.now_ms() as f64;
    }

    fn tick(&mut self) -> bool {
        let now = now_ms();
        let dt = self
            .last_tick
            .map(|l| (now - l).clamp(0.0, 100.0))
            .unwrap_or(0.0);
        self.last_tick = Some(now);
        if let Some(m) = self.lesson.as_mut().filter(|m| m.animating()) {
            self.view_t = m.advance(dt);
            return true;
        }
        if !self.playing {
            return false;
        }
        self.tick_started = now;
        let mut target = self.view_t + dt * self.speed / WALL_MS_PER_VIRTUAL_MS;
        // A museum scenario stops at its end.
        let museum_end = self
            .museum
            .map(|r| crate::museum::EXHIBITS[r.exhibit].end_ms as f64)
            .filter(|end| self.view_t < *end);
        if let Some(end) = museum_end {
            if target >= end {
                target = end;
                self.playing = false;
            }
        }
        if let Some(m) = &mut self.lesson {
            // Time only runs during an exercise's free play; steps are played by Next.
            if m.exercise.is_none() {
                self.playing = false;
                return true;
            }
            let now = m.cluster().now().0;
            m.run_for((target.floor() as u64).saturating_sub(now));
            self.view_t = target.max(m.cluster().now().0 as f64);
            return true;
        }
        if self.lab.play_to(target.floor() as u64, MAX_STEPS_PER_FRAME) {
            self.view_t = target;
        } else {
            self.view_t = self.lab.now_ms() as f64;
        }
        if self.lab.cluster().violation().is_some() {
            if !self.violation_paused {
                self.violation_paused = true;
                self.playing = false;
            }
        } else {
            self.violation_paused = false;
        }
        self.page.pump(&mut self.lab);
        crate::bench::on_tick(self);
        true
    }

    pub(crate) fn load(&mut self, s: LabScenario) {
        self.setup = SetupForm {
            participants: s.config.participants,
            observers: s.config.observers,
            seed: s.seed,
        };
        self.lab = Lab::new(s);
        if self.lesson.take().is_some() || self.museum.take().is_some() {
            replace_url(&base_url());
        }
        self.view_t = 0.0;
        self.selection = Selection::None;
        self.error = None;
        self.share_url = None;
        self.violation_paused = false;
        self.playing = true;
    }

    fn act(&mut self, a: LabAction) {
        if let Some(m) = &mut self.lesson {
            if m.exercise.is_none() {
                self.error = Some(
                    crate::view_lesson::tr(
                        self.lang,
                        "Start an exercise to act on the lesson's cluster (the steps are scripted).",
                        "请先开始练习，再对课程的集群操作（课程步骤是预先编排的）。",
                    )
                    .to_string(),
                );
            } else if let Err(e) = m.act(&a) {
                self.error = Some(e);
            } else {
                self.error = None;
            }
            self.sync_view_t();
            return;
        }
        // The view may be between two whole milliseconds: act at the one the cluster is at.
        self.lab.act(a);
        self.view_t = self.lab.now_ms() as f64;
    }

    /// A client write from the form, through the page's session on that server (the first
    /// write opens it; see [`crate::page_client`]).
    fn send_write(&mut self) {
        let f = self.write.clone();
        if !f.path.starts_with('/') {
            self.error = Some(format!("a znode path starts with '/': `{}`", f.path));
            return;
        }
        if let Some(m) = &mut self.lesson {
            let set = f.kind == WriteKind::SetData;
            self.error = match m.exercise {
                None => Some(
                    crate::view_lesson::tr(
                        self.lang,
                        "Start an exercise to send writes to the lesson's cluster.",
                        "请先开始练习，再向课程的集群发送写请求。",
                    )
                    .to_string(),
                ),
                Some(_) => m.write(f.server, set, &f.path, &f.data).err(),
            };
            self.sync_view_t();
            return;
        }
        let data = Some(f.data.clone().into_bytes());
        let op = match f.kind {
            WriteKind::Create => WriteOp::Create(CreateRequest {
                path: f.path,
                data,
                acl: open_acl_unsafe(),
                flags: 0,
            }),
            WriteKind::SetData => WriteOp::SetData(SetDataRequest {
                path: f.path,
                data,
                version: -1,
            }),
        };
        // The view may be between two whole milliseconds: act at the one the cluster is at.
        self.error = self.page.write(&mut self.lab, f.server, op).err();
        self.view_t = self.lab.now_ms() as f64;
    }

    /// The link to this moment: every branch, the one shown, the instant, speed, selection.
    pub fn share_link(&self) -> String {
        let picked = match &self.selection {
            Selection::None => None,
            Selection::Server(s) => Some(share::Picked::Server(*s)),
            Selection::Link(a, b) => Some(share::Picked::Link(*a, *b)),
            Selection::Message(m) => Some(share::Picked::Message(m.msg_id)),
        };
        share::link(&base_url(), &self.lab, self.view_t, self.speed, picked)
    }
}
