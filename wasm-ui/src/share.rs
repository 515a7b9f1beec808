//! Shareable runs: a scenario (configuration, seed, timed actions) as JSON, carried in the URL's
//! hash as `#run=<base64url(JSON)>` or in an exported `.json` file, plus the short query
//! parameters (`?seed=7&servers=5&observers=1&speed=10&t=4000&large=1&present=1`).
//!
//! A link and a file carry the whole lab: every branch (its actions and how far it was
//! explored), which one is shown, the exact moment (events run and the view's virtual time),
//! the selection and the speed. Opening one restores that moment, paused.
//!
//! Decoding never panics: any bad input becomes an error message the page shows, and numbers
//! past what the page can replay are clamped with a message saying so.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::lab::{lab_config, Lab, LabScenario};
use zablab_core::lesson::Lang;
use zablab_core::sim::{Scenario, ScheduledAction};
use zablab_core::tree::Request;
use zablab_core::Sid;

/// The file and URL format, versioned. `branches`, `branch` and `at` are optional (files of
/// the first round have only the scenario), so the version stays 1.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SharedRun {
    pub zablab_run: u32,
    /// The branch shown (its configuration and seed are every branch's).
    pub scenario: LabScenario,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<SharedBranch>,
    #[serde(default)]
    pub branch: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Moment>,
}

/// One branch of the lab: its actions and how far it was explored.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SharedBranch {
    pub name: String,
    pub actions: Vec<ScheduledAction<Request>>,
    pub steps: u64,
}

/// The exact moment: events run, and the view's virtual time in µs (between two events; an
/// integer keeps the float parser out of the page).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Moment {
    pub steps: u64,
    pub view_us: u64,
}

fn to_us(ms: f64) -> u64 {
    (ms.max(0.0) * 1000.0).round() as u64
}

pub const FORMAT_VERSION: u32 = 1;
pub const MAX_SERVERS: u64 = 9;
/// The furthest virtual time a link may ask for: the page replays to it before it can draw, and
/// a longer run's trace would not fit in the page's memory.
pub const MAX_T_MS: u64 = 600_000;
/// The most events a link may ask to run.
pub const MAX_STEPS: u64 = 2_000_000;
/// At most this many branches and actions in a shared lab.
pub const MAX_BRANCHES: usize = 64;
pub const MAX_ACTIONS: usize = 20_000;
/// A link's or file's run is at most this long (bytes of base64 or JSON).
pub const MAX_RUN_BYTES: usize = 4 << 20;

/// The lab as a shared run, at its current moment.
pub fn shared(lab: &Lab, view_ms: f64) -> SharedRun {
    SharedRun {
        zablab_run: FORMAT_VERSION,
        scenario: lab.scenario().clone(),
        branches: lab
            .branches
            .iter()
            .map(|b| SharedBranch {
                name: b.name.clone(),
                actions: b.scenario.actions.clone(),
                steps: b.explored_steps,
            })
            .collect(),
        branch: lab.current,
        at: Some(Moment {
            steps: lab.steps(),
            view_us: to_us(view_ms),
        }),
    }
}

/// The file's text: compact JSON (one serializer for the link and the file keeps the page
/// within its size budget).
pub fn to_json(run: &SharedRun) -> String {
    serde_json::to_string(run).unwrap_or_default()
}

/// A lab restored from a shared run: every branch, the one shown current, at the moment (if
/// any) the run was shared. Returns the lab and the view time to show.
pub fn restore(run: &SharedRun) -> (Lab, f64) {
    let mut lab = Lab::new(run.scenario.clone());
    if !run.branches.is_empty() {
        let mut branches = run.branches.iter().map(|b| {
            let scenario = Scenario {
                actions: b.actions.clone(),
                ..run.scenario.clone()
            };
            (b.name.clone(), scenario, b.steps)
        });
        if let Some(first) = branches.next() {
            lab = Lab::new(first.1);
            lab.branches[0].name = first.0;
            lab.branches[0].explored_steps = first.2;
        }
        for (name, scenario, steps) in branches {
            lab.add_branch(name, scenario, steps);
        }
        lab.select_branch(run.branch);
    }
    let mut view_ms = lab.now_ms() as f64;
    if let Some(at) = run.at {
        lab.seek_steps(at.steps);
        let now = lab.now_ms() as f64;
        let next = lab
            .cluster()
            .next_event_time()
            .map(|t| t.0 as f64)
            .unwrap_or(f64::INFINITY);
        let at_ms = at.view_us as f64 / 1000.0;
        view_ms = if at_ms >= now && at_ms < next {
            at_ms
        } else {
            now
        };
    }
    (lab, view_ms)
}

/// Checks what a shared run asks for before the simulator sees it.
fn validate(s: LabScenario) -> Result<LabScenario, String> {
    let (p, o) = (s.config.participants, s.config.observers);
    if p == 0 || p + o > MAX_SERVERS {
        return Err(format!("a run needs 1 to {MAX_SERVERS} servers, this one has {p} participants and {o} observers"));
    }
    let (lo, hi) = s.config.latency_ms;
    let (dlo, dhi) = s.config.disk_latency_ms;
    if lo > hi || dlo > dhi || hi > 60_000 || dhi > 60_000 {
        return Err("latency ranges must be low ≤ high and at most 60 s".into());
    }
    if s.config.timing.tick_time_ms == 0 {
        return Err("tickTime must be positive".into());
    }
    in_order(&s.actions)?;
    Ok(s)
}

fn in_order(actions: &[ScheduledAction<Request>]) -> Result<(), String> {
    if actions.len() > MAX_ACTIONS {
        return Err(format!("a branch has at most {MAX_ACTIONS} actions"));
    }
    if actions.windows(2).any(|w| w[0].at > w[1].at) {
        return Err("actions must be in time order".into());
    }
    Ok(())
}

/// Checks a whole shared run: the scenario, every branch, and the branch index.
fn validate_run(mut run: SharedRun) -> Result<SharedRun, String> {
    if run.zablab_run != FORMAT_VERSION {
        return Err(format!(
            "run format {} is not supported (expected {FORMAT_VERSION})",
            run.zablab_run
        ));
    }
    run.scenario = validate(run.scenario)?;
    if run.branches.len() > MAX_BRANCHES {
        return Err(format!("a run has at most {MAX_BRANCHES} branches"));
    }
    let total: usize = run.branches.iter().map(|b| b.actions.len()).sum();
    if total > MAX_ACTIONS {
        return Err(format!("a run has at most {MAX_ACTIONS} actions in all"));
    }
    for b in &run.branches {
        in_order(&b.actions)?;
    }
    if !run.branches.is_empty() && run.branch >= run.branches.len() {
        return Err(format!(
            "branch {} does not exist (the run has {})",
            run.branch,
            run.branches.len()
        ));
    }
    Ok(run)
}

/// A run from a file (or a link's decoded text).
pub fn run_from_json(text: &str) -> Result<SharedRun, String> {
    if text.len() > MAX_RUN_BYTES {
        return Err(format!("a run file is at most {MAX_RUN_BYTES} bytes"));
    }
    let run: SharedRun =
        serde_json::from_str(text).map_err(|e| format!("not a ZabLab run: {e}"))?;
    validate_run(run)
}

#[cfg(test)]
pub fn from_json(text: &str) -> Result<LabScenario, String> {
    run_from_json(text).map(|r| r.scenario)
}

pub fn encode_run(run: &SharedRun) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(run).unwrap_or_default())
}

#[cfg(test)]
pub fn encode(s: &LabScenario) -> String {
    encode_run(&SharedRun {
        zablab_run: FORMAT_VERSION,
        scenario: s.clone(),
        branches: Vec::new(),
        branch: 0,
        at: None,
    })
}

#[cfg(test)]
pub fn decode(b64: &str) -> Result<LabScenario, String> {
    decode_run(b64).map(|r| r.scenario)
}

pub fn decode_run(b64: &str) -> Result<SharedRun, String> {
    if b64.len() > MAX_RUN_BYTES {
        return Err(format!(
            "the link's run is longer than {MAX_RUN_BYTES} bytes"
        ));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(b64.trim().trim_end_matches('='))
        .map_err(|e| format!("the link's run is damaged (base64: {e})"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| "the link's run is not UTF-8 text".to_string())?;
    run_from_json(&text)
}

/// What a link selects: `sel=s2` (a server), `sel=l1-3` (a link), `sel=m57` (a message).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Picked {
    Server(Sid),
    Link(Sid, Sid),
    Message(u64),
}

impl Picked {
    pub fn param(self) -> String {
        match self {
            Picked::Server(s) => format!("s{s}"),
            Picked::Link(a, b) => format!("l{a}-{b}"),
            Picked::Message(m) => format!("m{m}"),
        }
    }

    fn parse(v: &str) -> Option<Picked> {
        let (kind, rest) = v.split_at(v.char_indices().nth(1).map(|(i, _)| i)?);
        match kind {
            "s" => rest.parse().ok().map(Picked::Server),
            "m" => rest.parse().ok().map(Picked::Message),
            "l" => {
                let (a, b) = rest.split_once('-')?;
                Some(Picked::Link(a.parse().ok()?, b.parse().ok()?))
            }
            _ => None,
        }
    }
}

/// The link to this lab at this moment: `#run=…&t=…&steps=…&speed=…[&sel=…]`.
pub fn link(base: &str, lab: &Lab, view_ms: f64, speed: f64, picked: Option<Picked>) -> String {
    let mut url = format!(
        "{base}#run={}&t={}&steps={}&speed={speed}",
        encode_run(&shared(lab, view_ms)),
        lab.now_ms(),
        lab.steps()
    );
    if let Some(p) = picked {
        url += &format!("&sel={}", p.param());
    }
    url
}

/// What the page was opened with.
#[derive(Default, Debug, PartialEq)]
pub struct Opened {
    pub scenario: Option<LabScenario>,
    /// A whole shared lab (`#run=`), with `scenario` its branch shown.
    pub run: Option<SharedRun>,
    pub picked: Option<Picked>,
    pub present: bool,
    /// `?panic=test`: a deliberate panic, to see the error panel (a test hook).
    pub panic_test: bool,
    pub speed: Option<f64>,
    /// Run to this virtual time at once and pause there.
    pub until_ms: Option<u64>,
    /// Or run exactly this many simulator events (a shared mid-millisecond moment).
    pub until_steps: Option<u64>,
    /// The shared moment's view time (between two events), from a `#run=` that has one.
    pub view_ms: Option<f64>,
    pub large: bool,
    pub paused: bool,
    pub bench: Option<String>,
    /// `?lesson=01&step=3&lang=zh`: a lesson (name or unique prefix), the steps played, the
    /// language.
    pub lesson: Option<String>,
    pub step: Option<usize>,
    pub lang: Option<Lang>,
    pub error: Option<String>,
}

fn params(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// A number at most `max`: larger ones become `max`, with the note the page shows. (`t` and
/// `steps` may carry a fraction, as a shared moment between two events does: it is dropped.)
fn clamped(v: &str, what: &str, max: u64, unit: &str) -> Result<(u64, Option<String>), String> {
    let x: f64 = v
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| format!("`{what}={v}` is not a number"))?;
    if x > max as f64 {
        return Ok((
            max,
            Some(format!(
                "`{what}={v}` is past what the page replays: shown at {what} = {max}{unit} instead"
            )),
        ));
    }
    Ok((x as u64, None))
}

/// Parses `location.search` and `location.hash` (each with or without its leading `?`/`#`).
pub fn parse_location(search: &str, hash: &str) -> Opened {
    let mut o = Opened::default();
    let (mut seed, mut servers, mut observers) = (None, None, None);
    let all = params(search.trim_start_matches('?')).chain(params(hash.trim_start_matches('#')));
    for (k, v) in all {
        let num = |what: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("`{what}={v}` is not a number"))
        };
        let r: Result<(), String> = match k {
            "run" => decode_run(v).map(|r| {
                o.scenario = Some(r.scenario.clone());
                o.view_ms = r.at.map(|a| a.view_us as f64 / 1000.0);
                o.run = Some(r);
            }),
            "seed" => num("seed").map(|n| seed = Some(n)),
            "servers" => num("servers").map(|n| servers = Some(n)),
            "observers" => num("observers").map(|n| observers = Some(n)),
            "t" => clamped(v, "t", MAX_T_MS, " ms").map(|(n, note)| {
                o.until_ms = Some(n);
                if let Some(n) = note {
                    o.error.get_or_insert(n);
                }
            }),
            "steps" => clamped(v, "steps", MAX_STEPS, " events").map(|(n, note)| {
                o.until_steps = Some(n);
                if let Some(n) = note {
                    o.error.get_or_insert(n);
                }
            }),
            "sel" => Picked::parse(v)
                .map(|p| o.picked = Some(p))
                .ok_or_else(|| format!("`sel={v}` is not s<server>, l<a>-<b> or m<message>")),
            "present" => {
                o.present = v != "0";
                Ok(())
            }
            "panic" => {
                o.panic_test = v == "test";
                Ok(())
            }
            "speed" => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .map(|x| o.speed = Some(x.clamp(0.1, 100.0)))
                .ok_or_else(|| format!("`speed={v}` is not a positive number")),
            "large" => {
                o.large = v != "0";
                Ok(())
            }
            "paused" => {
                o.paused = v != "0";
                Ok(())
            }
            "lesson" => {
                o.lesson = Some(v.to_string());
                Ok(())
            }
            "step" => num("step").map(|n| o.step = Some(n.min(usize::MAX as u64) as usize)),
            "lang" => Lang::parse(v)
                .map(|l| o.lang = Some(l))
                .ok_or_else(|| format!("`lang={v}`: the lab speaks en and zh")),
            "bench" => {
                o.bench = Some(v.to_string());
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = r {
            o.error.get_or_insert(e);
        }
    }
    if o.scenario.is_none() && (seed.is_some() || servers.is_some() || observers.is_some()) {
        let p = servers.unwrap_or(3);
        let obs = observers.unwrap_or(0);
        let s = Scenario {
            config: lab_config(p, obs),
            seed: seed.unwrap_or(1),
            actions: Vec::new(),
        };
        match validate(s) {
            Ok(s) => o.scenario = Some(s),
            Err(e) => {
                o.error.get_or_insert(e);
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use zablab_core::sim::{Action, ScheduledAction};
    use zablab_core::Instant;

    #[test]
    fn a_scenario_survives_the_url_and_the_file() {
        let mut s = Scenario {
            config: lab_config(5, 1),
            seed: 99,
            actions: Vec::new(),
        };
        s.actions.push(ScheduledAction {
            at: Instant(1200),
            action: Action::Crash(2),
        });
        s.actions.push(ScheduledAction {
            at: Instant(3000),
            action: Action::Cut {
                from: 1,
                to: 3,
                both: true,
            },
        });
        assert_eq!(decode(&encode(&s)), Ok(s.clone()));
        let file = SharedRun {
            zablab_run: FORMAT_VERSION,
            scenario: s.clone(),
            branches: Vec::new(),
            branch: 0,
            at: None,
        };
        assert_eq!(from_json(&to_json(&file)), Ok(s.clone()));
        let o = parse_location("?speed=10", &format!("#run={}&t=500", encode(&s)));
        assert_eq!(o.scenario, Some(s));
        assert_eq!(
            (o.speed, o.until_ms, o.error),
            (Some(10.0), Some(500), None)
        );
    }

    #[test]
    fn out_of_range_numbers_are_clamped_with_a_message() {
        let o = parse_location("?t=10000000&seed=3", "");
        assert_eq!(o.until_ms, Some(MAX_T_MS));
        assert!(
            o.error.as_deref().is_some_and(|e| e.contains("t=10000000")),
            "{:?}",
            o.error
        );
        assert!(o.scenario.is_some(), "the run still opens");
        let o = parse_location("", "#steps=99999999999");
        assert_eq!(o.until_steps, Some(MAX_STEPS));
        let o = parse_location("?t=4000.5", "");
        assert_eq!((o.until_ms, o.error), (Some(4000), None));
    }

    #[test]
    fn a_lab_with_branches_a_moment_and_a_selection_survives_its_link() {
        let mut lab = Lab::new(Scenario {
            config: lab_config(3, 0),
            seed: 4,
            actions: Vec::new(),
        });
        lab.run_to(3_000);
        lab.act(zablab_core::sim::Action::Crash(1));
        lab.run_to(4_000);
        lab.seek_time(2_000);
        lab.act(zablab_core::sim::Action::Crash(2));
        lab.run_to(2_500);
        lab.step_event();
        assert_eq!(lab.branches.len(), 2);
        let (hash, steps) = (lab.cluster().trace().hash(), lab.steps());
        let view = lab.now_ms() as f64 + 0.25;
        let url = link("http://x/", &lab, view, 3.0, Some(Picked::Link(1, 3)));
        let (_, hash_part) = url.split_once('#').expect("a hash");
        let o = parse_location("", hash_part);
        assert_eq!(
            (o.speed, o.picked, &o.error),
            (Some(3.0), Some(Picked::Link(1, 3)), &None)
        );
        let run = o.run.expect("a shared lab");
        let (back, view_back) = restore(&run);
        assert_eq!(back.branches.len(), 2);
        assert_eq!(back.current, 1);
        assert_eq!(back.steps(), steps);
        assert_eq!(back.cluster().trace().hash(), hash);
        assert_eq!(view_back, view);
        assert_eq!(
            back.branches[0].scenario.actions,
            lab.branches[0].scenario.actions
        );
        // The file carries the same.
        let file = run_from_json(&to_json(&shared(&lab, view))).expect("a file");
        assert_eq!(file, run);
    }

    #[test]
    fn bad_links_give_messages_not_panics() {
        for (search, hash) in [
            ("", "#run=%%%"),
            ("", "#run=e30"),
            ("?seed=abc", ""),
            ("?servers=12", ""),
            ("?servers=0", ""),
            ("?speed=-1", ""),
            ("?lang=fr", ""),
            ("?lesson=01&step=x", ""),
            ("?sel=q1", ""),
            ("", "#run=eyJ6YWJsYWJfcnVuIjoxLCJzY2VuYXJpbyI6MX0"),
        ] {
            let o = parse_location(search, hash);
            assert!(o.error.is_some(), "{search}{hash} should be refused");
            assert!(o.scenario.is_none());
        }
        let o = parse_location("?lesson=01&step=3&lang=zh", "");
        assert_eq!(
            (o.lesson.as_deref(), o.step, o.lang, o.error),
            (Some("01"), Some(3), Some(Lang::Zh), None)
        );
        let o = parse_location("?seed=5&servers=7&observers=2", "");
        let s = o.scenario.expect("a scenario");
        assert_eq!(
            (s.seed, s.config.participants, s.config.observers),
            (5, 7, 2)
        );
    }
}
