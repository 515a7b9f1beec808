//! Measurements that print numbers (not tests), opened as `?bench=sim` or `?bench=frame`:
//!
//! * `sim` — the same workload as the core's native `sim_bench` example (5 servers, 64 writes in
//!   flight, `ChainMachine`, trace hashed not kept), run in the browser: deliveries per second.
//! * `frame` — 9 servers with about 1,000 messages in flight, played slowly: the time from an
//!   animation tick to the rendered page (simulator step + view + DOM patch), mean / p95 / max.
//!
//! Results go to `<pre id="bench-result">` and the console; `ui-tests/bench.mjs` collects them.

use std::cell::RefCell;

use yew::prelude::*;

#[cfg(feature = "sim-bench")]
use zablab_core::sim::bench::SteadyWrites;
use zablab_core::sim::{Action, Scenario};
use zablab_core::tree::acl::open_acl_unsafe;
use zablab_core::tree::{CreateRequest, Request, WriteOp};

use crate::app::App;
use crate::browser::now_ms;
use crate::lab::{lab_config, LabScenario};
use crate::page_client::SESSION_TIMEOUT_MS;

#[derive(Default)]
struct State {
    mode: Option<String>,
    stage: u32,
    samples: Vec<f64>,
    intervals: Vec<f64>,
    last_tick: f64,
    result: Option<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

const FRAME_SAMPLES: usize = 180;
const FRAME_WRITES: usize = 130;

/// Called once at start-up with the `bench` URL parameter; may replace the scenario.
pub fn init(mode: Option<&str>) -> Option<LabScenario> {
    STATE.with(|s| s.borrow_mut().mode = mode.map(str::to_string));
    match mode {
        Some("frame") => {
            let mut config = lab_config(9, 0);
            config.latency_ms = (400, 600);
            // Slow links need ZooKeeper's real tickTime, or initLimit runs out during sync.
            config.timing.tick_time_ms = 2_000;
            Some(Scenario {
                config,
                seed: 3,
                actions: Vec::new(),
            })
        }
        _ => None,
    }
}

/// The `ChainMachine` workload is a second instantiation of the simulator: it ships in the
/// second module only (`index.html` loads that one for `?bench=sim`), not in the lab page.
#[cfg(not(feature = "sim-bench"))]
fn sim_run(_secs: f64, _check: bool) -> (u64, u64, f64) {
    (0, 0, 1.0)
}

#[cfg(feature = "sim-bench")]
fn sim_run(secs: f64, check: bool) -> (u64, u64, f64) {
    let Some(mut w) = SteadyWrites::new(check) else {
        return (0, 0, 1.0);
    };
    let start = now_ms();
    let (d0, w0) = (w.deliveries(), w.writes);
    while now_ms() - start < secs * 1000.0 {
        w.round();
    }
    (
        w.deliveries() - d0,
        w.writes - w0,
        (now_ms() - start) / 1000.0,
    )
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    let p95 = s[((s.len() as f64 * 0.95) as usize).min(s.len() - 1)];
    (mean, p95, s[s.len() - 1])
}

fn finish(text: String) {
    web_sys::console::log_1(&text.clone().into());
    STATE.with(|s| s.borrow_mut().result = Some(text));
}

/// Drives a benchmark from the animation tick.
pub fn on_tick(app: &mut App) {
    let mode = STATE.with(|s| s.borrow().mode.clone());
    match mode.as_deref() {
        Some("sim") => {
            if STATE.with(|s| s.borrow().result.is_some()) {
                return;
            }
            app.playing = false;
            let (d1, w1, t1) = sim_run(3.0, true);
            let (d2, w2, t2) = sim_run(3.0, false);
            finish(format!(
                "with invariant checks: {d1} deliveries, {w1} writes in {t1:.2} s: {:.0} deliveries/s\n\
                 without checks:        {d2} deliveries, {w2} writes in {t2:.2} s: {:.0} deliveries/s\n\
                 deliveries/s: {:.0}",
                d1 as f64 / t1,
                d2 as f64 / t2,
                d2 as f64 / t2
            ));
        }
        Some("frame") => frame_tick(app),
        _ => {}
    }
}

fn frame_tick(app: &mut App) {
    let stage = STATE.with(|s| s.borrow().stage);
    match stage {
        0 => {
            // Elect a leader, then fire a burst of writes at it.
            app.lab.run_to(app.lab.now_ms() + 2_000);
            let Some(leader) = app
                .lab
                .cluster()
                .leader()
                .filter(|_| app.lab.cluster().is_stable())
            else {
                return;
            };
            // A load generator, not a client: one session's writes all in flight at once.
            let session = ((leader as i64) << 56) | 1;
            let open = Request::new(
                session,
                1,
                Vec::new(),
                WriteOp::CreateSession {
                    timeout_ms: SESSION_TIMEOUT_MS,
                },
            );
            app.lab.act(Action::Write {
                server: leader,
                txn: open,
            });
            for i in 0..FRAME_WRITES {
                let req = CreateRequest {
                    path: format!("/w{i}"),
                    data: Some(b"x".to_vec()),
                    acl: open_acl_unsafe(),
                    flags: 0,
                };
                let txn = Request::new(session, i as i32 + 2, Vec::new(), WriteOp::Create(req));
                app.lab.act(Action::Write {
                    server: leader,
                    txn,
                });
            }
            STATE.with(|s| s.borrow_mut().stage = 1);
        }
        1 => {
            // Step until the proposals are on the wire.
            let mut guard = 0;
            while app.lab.cluster().in_flight().len() < 1_000
                && guard < 20_000
                && app.lab.step_event()
            {
                guard += 1;
            }
            app.view_t = app.lab.now_ms() as f64;
            app.speed = 0.1;
            app.playing = true;
            STATE.with(|s| s.borrow_mut().stage = 2);
        }
        _ => {
            let now = now_ms();
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                if s.last_tick > 0.0 {
                    let d = now - s.last_tick;
                    s.intervals.push(d);
                }
                s.last_tick = now;
            });
        }
    }
}

/// Called after each render with the time since the tick started.
pub fn on_rendered(work_ms: f64, in_flight: usize) {
    let done = STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.mode.as_deref() != Some("frame") || s.stage < 2 || s.result.is_some() {
            return None;
        }
        s.samples.push(work_ms);
        if s.samples.len() < FRAME_SAMPLES {
            return None;
        }
        let (m, p95, max) = stats(&s.samples);
        let (im, ip95, _) = stats(&s.intervals);
        Some(format!(
            "servers: 9, messages in flight: {in_flight}\n\
             frame work (tick → rendered): mean {m:.2} ms, p95 {p95:.2} ms, max {max:.2} ms over {} frames\n\
             tick interval: mean {im:.2} ms, p95 {ip95:.2} ms\n\
             frame ms: {m:.2}",
            s.samples.len()
        ))
    });
    if let Some(text) = done {
        finish(text);
    }
}

pub fn view(_app: &App) -> Html {
    match STATE.with(|s| s.borrow().result.clone()) {
        Some(r) => html! { <pre id="bench-result">{r}</pre> },
        None => html! {},
    }
}
