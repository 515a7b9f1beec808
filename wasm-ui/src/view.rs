//! The page: toolbar (play, step, speed, new run, share, large type, present), the cluster
//! drawing in its measured box `#diagram`, the timeline with phase bands, fault and write
//! markers, zoom and branches, the inspector, the client-write form, and a slot for the lesson
//! picker and narration. Present mode keeps only the drawing and a status bar.
//!
//! The root element `#lab` carries the run's state as data attributes (`data-time`,
//! `data-steps`, `data-leader`, `data-stable`, `data-hash`, `data-violation`, `data-playing`,
//! `data-branch`, `data-frame-ms`) for tests, benchmarks and lesson scripts.

use yew::prelude::*;

use zablab_core::Sid;

use zablab_core::sim::{Action, HostEvent};

use crate::app::{App, Field, Msg, StageView, WriteKind};
use crate::lab::Band;
use crate::view_cluster::cluster;
use crate::view_panels::inspector;

fn input_value(e: &Event) -> String {
    e.target_unchecked_into::<web_sys::HtmlInputElement>()
        .value()
}

fn speed_to_slider(s: f64) -> f64 {
    // 0.1× .. 100× on a log scale 0 .. 300.
    (s.log10() + 1.0) * 100.0
}

fn slider_to_speed(v: f64) -> f64 {
    10f64.powf(v / 100.0 - 1.0)
}

fn toolbar(app: &App, ctx: &Context<App>) -> Html {
    let link = ctx.link();
    let speed = link.callback(|e: InputEvent| {
        let v = e
            .target_unchecked_into::<web_sys::HtmlInputElement>()
            .value()
            .parse()
            .unwrap_or(100.0);
        Msg::Speed(slider_to_speed(v))
    });
    let num = |f: fn(u64) -> Field| {
        link.callback(move |e: Event| Msg::Form(f(input_value(&e).parse().unwrap_or(0))))
    };
    let import_ok = link.callback(Msg::Import);
    let import_err = link.callback(Msg::ImportError);
    let import = Callback::from(move |e: Event| {
        let input = e.target_unchecked_into::<web_sys::HtmlInputElement>();
        crate::files::read_file(&input, import_ok.clone(), import_err.clone());
    });
    let s = &app.setup;
    html! {
        <header class="toolbar">
            <h1>{"ZabLab"}</h1>
            <button id="play" data-action="play" onclick={link.callback(|_| Msg::TogglePlay)} title="space">
                { if app.playing { "❚❚ Pause" } else { "▶ Play" } }
            </button>
            <button id="step-back" onclick={link.callback(|_| Msg::StepBack)} title="←">{"◀ Back"}</button>
            <button id="step" onclick={link.callback(|_| Msg::Step)} title="→">{"Step ▶"}</button>
            <label class="speed">{"speed "}
                <input id="speed" type="range" min="0" max="300" step="1" value={format!("{:.0}", speed_to_slider(app.speed))} oninput={speed} />
                <output>{format!("{:.1}×", app.speed)}</output>
            </label>
            <span class="clock" id="clock">{ match &app.lesson {
                Some(m) => format!("t = {:.0} ms · lesson step {}/{}", app.view_t, m.steps_played(), m.step_count()),
                None => format!("t = {:.0} ms · event {}", app.view_t, app.lab.steps()),
            } }</span>
            <span class="spacer" />
            // A lesson runs on its own configuration: show that, not the lab's set-up form.
            if let Some(config) = crate::view_lesson::config(app) {
                {config}
            } else {
                <label>{"participants "}<input id="participants" type="number" min="1" max="9" value={s.participants.to_string()} onchange={num(Field::Participants)} /></label>
                <label>{"observers "}<input id="observers" type="number" min="0" max="8" value={s.observers.to_string()} onchange={num(Field::Observers)} /></label>
                <label>{"seed "}<input id="seed" type="number" min="0" value={s.seed.to_string()} onchange={num(Field::Seed)} /></label>
            }
            <button id="new-run" onclick={link.callback(|_| Msg::NewRun)}>{"New run"}</button>
            <button id="share" onclick={link.callback(|_| Msg::Share)}>{"Share link"}</button>
            <button id="export" onclick={link.callback(|_| Msg::Export)}>{"Export"}</button>
            <label class="file">{"Import "}<input id="import" type="file" accept=".json,application/json" onchange={import} /></label>
            <button id="large" onclick={link.callback(|_| Msg::ToggleLarge)} aria-pressed={app.large.to_string()}>{"Large type"}</button>
            <button id="present" onclick={link.callback(|_| Msg::TogglePresent)} aria-pressed={app.present.to_string()} title="p">{"Present"}</button>
            {live_button()}
        </header>
    }
}

/// The real cluster of `cargo xtask lab`: the live module. Not in the museum (its exhibits are
/// simulated bugs) nor the lessons.
fn live_button() -> Html {
    if cfg!(any(feature = "museum", feature = "lessons")) {
        return html! {};
    }
    html! { <button id="to-live" onclick={Callback::from(|_| crate::browser::navigate("?live"))}>{"Live cluster"}</button> }
}

fn band_class(b: Band) -> &'static str {
    match b {
        Band::Down => "band down",
        Band::Phase(p) => match p {
            zablab_core::trace::ZabPhase::Election => "band election",
            zablab_core::trace::ZabPhase::Discovery => "band discovery",
            zablab_core::trace::ZabPhase::Synchronization => "band sync",
            zablab_core::trace::ZabPhase::Broadcast => "band broadcast",
        },
    }
}

/// What the timeline marks: (time, word, class, full description).
type Marker = (u64, &'static str, &'static str, String);

fn action_marker(at: u64, a: &crate::lab::LabAction) -> Option<Marker> {
    Some(match a {
        Action::Crash(s) => (at, "kill", "kill", format!("kill S{s}")),
        Action::Restart(s) | Action::Start(s) => (at, "restart", "restart", format!("start S{s}")),
        Action::WipeDisk(s) => (at, "wipe", "wipe", format!("wipe S{s}'s disk")),
        Action::Cut { from, to, both } => {
            let arrow = if *both { "⇄" } else { "→" };
            (at, "cut", "cut", format!("cut S{from}{arrow}S{to}"))
        }
        Action::Isolate(s) => (at, "cut", "cut", format!("cut all of S{s}'s links")),
        Action::Heal { from, to, .. } => (at, "heal", "heal", format!("heal S{from}–S{to}")),
        Action::HealAll => (at, "heal", "heal", "heal all links".into()),
        Action::SetLink { from, to, .. } => {
            (at, "link", "cut", format!("delay/drop S{from}→S{to}"))
        }
        Action::Write { server, .. } => (at, "write", "write", format!("write via S{server}")),
        _ => return None,
    })
}

/// The lab's markers come from the branch's actions (also those ahead of the cursor); a
/// lesson's from its trace.
fn markers(app: &App) -> Vec<Marker> {
    match &app.lesson {
        None => app
            .lab
            .scenario()
            .actions
            .iter()
            .filter_map(|a| action_marker(a.at.0, &a.action))
            .collect(),
        Some(m) => m
            .cluster()
            .trace()
            .records()
            .iter()
            .filter_map(|r| {
                let t = r.time.0;
                let s = r.node;
                Some(match &r.event {
                    HostEvent::Crashed => (t, "kill", "kill", format!("S{s} crashed")),
                    HostEvent::Restarted | HostEvent::Started => {
                        (t, "restart", "restart", format!("S{s} started"))
                    }
                    HostEvent::Wiped => (t, "wipe", "wipe", format!("S{s}'s disk wiped")),
                    HostEvent::LinkChanged { to, cut: true, .. } => {
                        (t, "cut", "cut", format!("cut S{s}→S{to}"))
                    }
                    HostEvent::ClientRequest { write: true, .. } => {
                        (t, "write", "write", format!("write via S{s}"))
                    }
                    _ => return None,
                })
            })
            .collect(),
    }
}

fn timeline(app: &App, ctx: &Context<App>) -> Html {
    let b = app.lab.branch();
    // A lesson's run has its own timeline (no scrubber: Back rewinds it step by step).
    let (all_bands, explored_ms) = match &app.lesson {
        Some(m) => (&m.bands, m.cluster().now().0),
        None => (&b.bands, b.explored_ms),
    };
    let end = explored_ms.max(app.view_t.ceil() as u64).max(1000) as f64;
    // The window shown: 1/zoom of the run, around the cursor.
    let span = (end / app.timeline_zoom).max(50.0);
    let t0 = (app.view_t - span / 2.0).clamp(0.0, (end - span).max(0.0));
    // The bands take at most 15 % of the window's height (12 % with Large type, whose diagram
    // needs more), so the drawing keeps the rest.
    let window_h = web_sys::window()
        .and_then(|w| w.inner_height().ok())
        .and_then(|v| v.as_f64())
        .unwrap_or(720.0);
    let want = if app.large { 16.0 } else { 14.0 };
    let share = if app.large { 0.12 } else { 0.15 };
    let row = (want * 1.25_f64)
        .min(window_h * share / all_bands.len().max(1) as f64)
        .max(9.0)
        .round();
    let font = (row * 0.8).min(want).round();
    let marker_h = font * 1.4;
    let label_w = font * 2.6;
    let width = app.stage_px.0.max(300.0);
    let w = width - label_w - 4.0;
    let x = |t: f64| label_w + ((t - t0) / span).clamp(0.0, 1.0) * w;
    let rows = all_bands.len();
    let bands: Html = all_bands
        .iter()
        .enumerate()
        .map(|(i, (sid, v))| {
            let y = marker_h + i as f64 * row;
            let segs = v.iter().enumerate().map(|(k, (start, band, _))| {
                let stop = v.get(k + 1).map(|n| n.0).unwrap_or(explored_ms.max(*start));
                let (x0, x1) = (x(*start as f64), x(stop as f64));
                html! { <rect class={band_class(*band)} x={format!("{x0:.1}")} y={format!("{:.1}", y + 1.0)}
                              width={format!("{:.1}", (x1 - x0).max(0.5))} height={format!("{:.1}", row - 2.0)}>
                            <title>{format!("S{sid} {} from {start} ms", band.name())}</title></rect> }
            });
            html! { <g data-band-node={sid.to_string()}>
                <text x="2" y={format!("{:.1}", y + row * 0.78)}>{format!("S{sid}")}</text>{ for segs }</g> }
        })
        .collect();
    let h = marker_h + rows as f64 * row + 2.0;
    // Markers: a tick through the bands, a word above it where there is room.
    let mut last_word_end = f64::NEG_INFINITY;
    let marks: Html = markers(app)
        .into_iter()
        .filter(|(t, ..)| (*t as f64) >= t0 && (*t as f64) <= t0 + span)
        .map(|(t, word, class, what)| {
            let mx = x(t as f64);
            let word_w = word.len() as f64 * font * 0.62;
            let show = mx - word_w / 2.0 > last_word_end + 4.0;
            if show {
                last_word_end = mx + word_w / 2.0;
            }
            html! {
                <g class={classes!("marker", class)} data-marker={word} data-at={t.to_string()}>
                    <line x1={format!("{mx:.1}")} x2={format!("{mx:.1}")} y1={format!("{:.1}", marker_h - 3.0)} y2={format!("{h:.0}")} />
                    if show { <text x={format!("{:.1}", mx.clamp(word_w / 2.0, width - word_w / 2.0))} y={format!("{:.1}", marker_h - 5.0)} text-anchor="middle">{word}</text> }
                    <title>{format!("{what} at {t} ms")}</title>
                </g>
            }
        })
        .collect();
    let cursor = x(app.view_t.max(0.0));
    let seek = ctx.link().callback(|e: InputEvent| {
        Msg::Seek(
            e.target_unchecked_into::<web_sys::HtmlInputElement>()
                .value()
                .parse()
                .unwrap_or(0),
        )
    });
    let pick = ctx
        .link()
        .callback(|e: Event| Msg::Branch(input_value(&e).parse().unwrap_or(0)));
    let branch_select = {
        let pick = pick.clone();
        html! {
            <select id="branch" onchange={pick}>
                { for app.lab.branches.iter().enumerate().map(|(i, br)| html!{
                    <option value={i.to_string()} selected={i == app.lab.current}>{&br.name}</option>
                }) }
            </select>
        }
    };
    let zoom = |f: f64| ctx.link().callback(move |_| Msg::Zoom(f));
    html! {
        <section class="timeline">
            <svg id="bands" viewBox={format!("0 0 {width:.0} {h:.0}")} width={format!("{width:.0}")} height={format!("{h:.0}")}
                 style={format!("font-size:{font}px")} data-t0={format!("{t0:.0}")} data-span={format!("{span:.0}")}>
                {bands}
                <g class="markers">{marks}</g>
                <line class="cursor" x1={format!("{cursor:.1}")} x2={format!("{cursor:.1}")} y1="0" y2={format!("{h:.0}")} />
            </svg>
            <div class="scrub">
                if app.lesson.is_none() {
                    <input id="scrubber" type="range" min="0" max={format!("{end:.0}")} step="1" value={format!("{:.0}", app.view_t)} oninput={seek} />
                    <span>{"branch "}</span>{branch_select}
                }
                <span class="zoom" role="group" aria-label="timeline zoom">
                    <button id="zoom-out" onclick={zoom(0.5)} title="zoom out">{"−"}</button>
                    <button id="zoom-in" onclick={zoom(2.0)} title="zoom in">{"+"}</button>
                    <button id="zoom-fit" onclick={zoom(0.0)}>{"whole run"}</button>
                    <output id="zoom-window">{format!("{:.0}–{:.0} ms", t0, t0 + span.min(end))}</output>
                </span>
                <span class="legend">
                    <i class="band election" />{"ELECTION "}<i class="band discovery" />{"DISCOVERY "}
                    <i class="band sync" />{"SYNC "}<i class="band broadcast" />{"BROADCAST "}<i class="band down" />{"DOWN"}
                </span>
            </div>
        </section>
    }
}

fn write_form(app: &App, ctx: &Context<App>) -> Html {
    let link = ctx.link();
    let sids: Vec<Sid> = app.cluster().ensemble().all();
    let f = &app.write;
    let server = link
        .callback(|e: Event| Msg::Form(Field::WriteServer(input_value(&e).parse().unwrap_or(1))));
    let kind = link.callback(|e: Event| {
        Msg::Form(Field::WriteKind(if input_value(&e) == "setData" {
            WriteKind::SetData
        } else {
            WriteKind::Create
        }))
    });
    let path = link.callback(|e: InputEvent| {
        Msg::Form(Field::WritePath(
            e.target_unchecked_into::<web_sys::HtmlInputElement>()
                .value(),
        ))
    });
    let data = link.callback(|e: InputEvent| {
        Msg::Form(Field::WriteData(
            e.target_unchecked_into::<web_sys::HtmlInputElement>()
                .value(),
        ))
    });
    let results: Vec<Html> = app
        .lab
        .cluster()
        .requests()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .take(5)
        .map(|(tag, server, txn, result)| {
            let what = txn.map(crate::show::request).unwrap_or_else(|| "sync".into());
            let how = match result {
                zablab_core::sim::ClientResult::Pending => "pending".to_string(),
                zablab_core::sim::ClientResult::Replied { zxid, outcome } => match outcome {
                    Ok(_) => format!("ok at {zxid}"),
                    Err(e) => format!("{e:?} at {zxid}"),
                },
                zablab_core::sim::ClientResult::Synced { zxid } => format!("synced {zxid}"),
                zablab_core::sim::ClientResult::Failed => "failed (server not serving)".into(),
            };
            html! { <li data-request={tag.to_string()}>{format!("#{tag} via S{server}: {what} → {how}")}</li> }
        })
        .collect();
    html! {
        <section class="panel write" id="write-form">
            <h2>{"Client write"}</h2>
            <select id="write-server" onchange={server}>
                { for sids.iter().map(|s| html!{ <option value={s.to_string()} selected={*s == f.server}>{format!("to S{s}")}</option> }) }
            </select>
            <select id="write-kind" onchange={kind}>
                <option value="create" selected={f.kind == WriteKind::Create}>{"create"}</option>
                <option value="setData" selected={f.kind == WriteKind::SetData}>{"setData"}</option>
            </select>
            <input id="write-path" value={f.path.clone()} oninput={path} size="8" />
            <input id="write-data" value={f.data.clone()} oninput={data} size="8" />
            <button id="send-write" onclick={link.callback(|_| Msg::SendWrite)}>{"Send"}</button>
            <ul class="requests">{ for results }</ul>
        </section>
    }
}

pub fn page(app: &App, ctx: &Context<App>) -> Html {
    let c = app.cluster();
    let violation = c.violation();
    let leader = c.leader().map(|l| l.to_string()).unwrap_or_default();
    let banner = violation.map(|v| {
        html! {
            <div id="violation" class="violation" data-invariant={v.invariant.clone()}>
                <strong>{format!("Invariant violated: {}", v.invariant)}</strong>
                {format!(" at {} ms on {}: {}", v.time.0, v.nodes.iter().map(|n| format!("S{n}")).collect::<Vec<_>>().join(", "), v.detail)}
            </div>
        }
    });
    let error = app
        .error
        .as_ref()
        .map(|e| html! { <div id="error" class="error">{e}</div> });
    let share = app.share_url.as_ref().map(|u| {
        html! { <div class="share">{"Link to this run: "}<input id="share-url" readonly=true value={u.clone()} /></div> }
    });
    html! {
        <div id="lab" class={classes!("lab", app.large.then_some("large"), app.present.then_some("present"))}
             data-present={app.present.to_string()}
             data-time={c.now().0.to_string()} data-steps={app.lab.steps().to_string()}
             data-leader={leader} data-stable={c.is_stable().to_string()}
             data-hash={format!("{:016x}", c.trace().hash())}
             data-violation={violation.map(|v| v.invariant.clone()).unwrap_or_default()}
             data-playing={app.playing.to_string()} data-branch={app.lab.current.to_string()}
             data-view-ms={format!("{:.3}", app.view_t)}
             data-lesson-step={app.lesson.as_ref().map(|m| m.steps_played().to_string()).unwrap_or_default()}
             data-frame-ms={format!("{:.2}", app.frame_ms)}>
            if !app.present { {toolbar(app, ctx)} }
            {error}{banner}
            if !app.present { {share} }
            <div class={classes!("body", (app.stage_view == StageView::Logs).then_some("logs-wide"))}>
                // A lesson's or the museum's slot is a column; in the free lab the lesson picker
                // sits in the side column, leaving the width to the drawing.
                if !app.present {
                    { match app.museum {
                        Some(run) => crate::view_museum::slot(app, ctx, run),
                        None if app.lesson.is_some() => crate::view_lesson::slot(app, ctx),
                        None => html! {},
                    } }
                }
                <main class="stage">
                    if !app.present { {crate::view_logs::stage_nav(app, ctx)} }
                    if app.present || app.stage_view != StageView::Logs {
                        <div id="diagram">{cluster(app, ctx)}</div>
                    }
                    if !app.present && app.stage_view != StageView::Diagram {
                        {crate::view_logs::logs(app)}
                    }
                    if !app.present { {timeline(app, ctx)} }
                </main>
                if !app.present {
                    <aside class="side">
                        if app.lesson.is_none() && app.museum.is_none() {
                            {crate::view_lesson::slot(app, ctx)}
                        }
                        {inspector(app, ctx)}
                        if app.show_timers { {crate::view_timers::timers(app)} }
                        {write_form(app, ctx)}
                    </aside>
                }
            </div>
            if app.present { {crate::present::bar(app, ctx)} }
            {crate::bench::view(app)}
        </div>
    }
}
