//! Shareable runs: a scenario (configuration, seed, timed actions) as JSON, carried in the URL's
//! hash as `#run=<base64url(JSON)>` or in an exported `.json` file, plus the short query
//! parameters (`?seed=7&servers=5&observers=1&speed=10&t=4000&large=1`).
//!
//! Decoding never panics: any bad input becomes an error message the page shows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::lab::{lab_config, LabScenario};
use zablab_core::lesson::Lang;
use zablab_core::sim::Scenario;

/// The file and URL format, versioned.
#[derive(Serialize, Deserialize)]
pub struct SharedRun {
    pub zablab_run: u32,
    pub scenario: LabScenario,
}

pub const FORMAT_VERSION: u32 = 1;
pub const MAX_SERVERS: u64 = 9;

pub fn to_json(s: &LabScenario) -> String {
    let run = SharedRun {
        zablab_run: FORMAT_VERSION,
        scenario: s.clone(),
    };
    serde_json::to_string_pretty(&run).unwrap_or_default()
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
    if s.actions.windows(2).any(|w| w[0].at > w[1].at) {
        return Err("actions must be in time order".into());
    }
    Ok(s)
}

pub fn from_json(text: &str) -> Result<LabScenario, String> {
    let run: SharedRun =
        serde_json::from_str(text).map_err(|e| format!("not a ZabLab run: {e}"))?;
    if run.zablab_run != FORMAT_VERSION {
        return Err(format!(
            "run format {} is not supported (expected {FORMAT_VERSION})",
            run.zablab_run
        ));
    }
    validate(run.scenario)
}

pub fn encode(s: &LabScenario) -> String {
    let run = SharedRun {
        zablab_run: FORMAT_VERSION,
        scenario: s.clone(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&run).unwrap_or_default())
}

pub fn decode(b64: &str) -> Result<LabScenario, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64.trim().trim_end_matches('='))
        .map_err(|e| format!("the link's run is damaged (base64: {e})"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| "the link's run is not UTF-8 text".to_string())?;
    from_json(&text)
}

/// What the page was opened with.
#[derive(Default, Debug, PartialEq)]
pub struct Opened {
    pub scenario: Option<LabScenario>,
    pub speed: Option<f64>,
    /// Run to this virtual time at once and pause there.
    pub until_ms: Option<u64>,
    /// Or run exactly this many simulator events (a shared mid-millisecond moment).
    pub until_steps: Option<u64>,
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
            "run" => decode(v).map(|s| o.scenario = Some(s)),
            "seed" => num("seed").map(|n| seed = Some(n)),
            "servers" => num("servers").map(|n| servers = Some(n)),
            "observers" => num("observers").map(|n| observers = Some(n)),
            "t" => num("t").map(|n| o.until_ms = Some(n)),
            "steps" => num("steps").map(|n| o.until_steps = Some(n)),
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
        assert_eq!(from_json(&to_json(&s)), Ok(s.clone()));
        let o = parse_location("?speed=10", &format!("#run={}&t=500", encode(&s)));
        assert_eq!(o.scenario, Some(s));
        assert_eq!(
            (o.speed, o.until_ms, o.error),
            (Some(10.0), Some(500), None)
        );
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
