//! The live lab's page: the real servers drawn with the simulator's geometry
//! ([`crate::diagram`]: boxes on an ellipse, per-direction lanes, stacked messages, labels that
//! never overlap), the selected server's vote box, learners and log, every server's log side by
//! side, the client form, the timeline, and replay of a saved session.
//!
//! Server boxes carry `data-node-id`, `data-state` and `data-live="true"`, messages
//! `data-msg-type`, as in the simulator's drawing, so the same browser tests read both.

use yew::prelude::*;

use zablab_core::trace::PeerStatus;
use zablab_core::Sid;

use super::model::{LiveModel, LiveServer};
use super::{LiveApp, Msg};
use crate::diagram::{
    group, group_label, Layout, Placer, Rect, FONT_LARGE_PX, FONT_PX, MAX_LABELS,
};
use crate::show::vote_short;

/// Messages drawn at once at most (the newest); the rest are counted in the toolbar.
const MAX_DRAWN: usize = 1_000;
/// Log rows in the side-by-side view.
const LOG_ROWS: usize = 16;

/// The diagram's measured box.
pub fn measure() -> Option<(f64, f64)> {
    let el = web_sys::window()?
        .document()?
        .get_element_by_id("diagram")?;
    let (w, h) = (el.client_width() as f64, el.client_height() as f64);
    (w > 0.0 && h > 0.0).then_some((w, h))
}

fn layout(app: &LiveApp, n: usize) -> Layout {
    let (w, h) = app.stage_px;
    let fit = w.min(h * 1.6) / 70.0;
    let (min, max) = if app.large {
        (FONT_LARGE_PX, (fit * 1.3).clamp(FONT_LARGE_PX, 32.0))
    } else {
        (FONT_PX, fit.clamp(FONT_PX, 24.0))
    };
    Layout::new(n.max(1), w, h, min.round(), max.round())
}

fn label(r: Rect, text: String, class: &'static str) -> Html {
    html! {
        <g class={classes!("label", class)}>
            <rect class="label-bg" x={format!("{:.1}", r.x)} y={format!("{:.1}", r.y)} width={format!("{:.1}", r.w)} height={format!("{:.1}", r.h)} rx="3" />
            <text x={format!("{:.1}", r.x + 4.0)} y={format!("{:.1}", r.y + r.h * 0.76)}>{text}</text>
        </g>
    }
}

/// The lines under a box's title, as many as fit.
fn box_lines(s: &LiveServer, lines: usize) -> Vec<(String, bool)> {
    let Some(p) = s.status.as_ref().filter(|_| s.connected) else {
        let why = match s.running {
            Some(false) => "process killed".to_string(),
            _ => "no trace stream".to_string(),
        };
        let mut v = vec![(why, false)];
        if let Some(p) = &s.status {
            v.push((format!("last seen: logged {}", p.last_logged_zxid), true));
        }
        return v.into_iter().take(lines).collect();
    };
    let looking = s.state_name() == "LOOKING";
    let mut v = vec![
        (
            format!("epoch {} · acc {}", p.current_epoch, p.accepted_epoch),
            false,
        ),
        (format!("applied {}", p.last_processed_zxid), false),
        (format!("logged {}", p.last_logged_zxid), false),
    ];
    v.push(if looking {
        (format!("vote {}", vote_short(&p.vote)), true)
    } else {
        (p.phase.name().to_string(), true)
    });
    if lines < v.len() {
        // Crowded: keep what moves (applied, logged), then the epochs.
        v.remove(0);
    }
    v.into_iter().take(lines).collect()
}

pub fn diagram(app: &LiveApp, ctx: &Context<LiveApp>) -> Html {
    let m_ = app.shown();
    let sids: Vec<Sid> = m_.servers.keys().copied().collect();
    let l = layout(app, sids.len());
    let m = l.m;
    let idx = |sid: Sid| sids.iter().position(|s| *s == sid);
    let boxes: Vec<Rect> = (0..sids.len()).map(|i| l.box_rect(i)).collect();
    let mut placer = Placer::new(l.width, l.height, boxes);
    let mut labels = Vec::new();

    let mut links = Vec::new();
    for (i, a) in sids.iter().enumerate() {
        for (j, b) in sids.iter().enumerate().skip(i + 1) {
            let (ab, ba) = (m_.cuts.contains(&(*a, *b)), m_.cuts.contains(&(*b, *a)));
            let class = match (ab, ba) {
                (true, true) => "link cut",
                (false, false) => "link",
                _ => "link cut-one",
            };
            let (pa, pb) = (l.centres[i], l.centres[j]);
            let mut dirs = Vec::new();
            for (from, to, fi, ti, cut) in [(*a, *b, i, j, ab), (*b, *a, j, i, ba)] {
                if !cut {
                    continue;
                }
                let (s, e) = l.lane(fi, ti);
                dirs.push(html! {
                    <line class="dir cut" data-dir={format!("{from}-{to}")} x1={format!("{:.1}", s.0)} y1={format!("{:.1}", s.1)}
                          x2={format!("{:.1}", e.0)} y2={format!("{:.1}", e.1)} marker-end="url(#arrow-cut)" />
                });
                let text = format!("S{from}→S{to} ✕ cut");
                if let Some(r) = placer.place(
                    l.on_lane(fi, ti, 0.3),
                    m.dot_r,
                    m.text_w(&text),
                    m.label_h(),
                ) {
                    labels.push(label(r, text, "link-label"));
                }
            }
            links.push(html! {
                <g class={class} data-link={format!("{a}-{b}")}>
                    <line class="wire" x1={format!("{:.1}", pa.0)} y1={format!("{:.1}", pa.1)} x2={format!("{:.1}", pb.0)} y2={format!("{:.1}", pb.1)} />
                    { for dirs }
                </g>
            });
        }
    }

    let t = app.now();
    let flights: Vec<_> = m_
        .in_flight(t)
        .into_iter()
        .filter(|(msg, _)| idx(msg.from).is_some() && idx(msg.to).is_some() && msg.from != msg.to)
        .take(MAX_DRAWN)
        .collect();
    let items: Vec<(usize, usize, f64)> = flights
        .iter()
        .map(|(msg, frac)| {
            // A lost message stops a third of the way along.
            let frac = if msg.dropped.is_some() {
                frac.min(0.35)
            } else {
                *frac
            };
            (idx(msg.from).unwrap_or(0), idx(msg.to).unwrap_or(0), frac)
        })
        .collect();
    let groups = group(&l, &items);
    for g in &groups {
        let r = m.dot_r + 1.0;
        placer.block(Rect {
            x: g.at.0 - r,
            y: g.at.1 - r,
            w: 2.0 * r,
            h: 2.0 * r,
        });
    }
    let labelled = groups.len() <= MAX_LABELS;
    let messages: Html = groups
        .iter()
        .map(|g| {
            let first = flights[g.members[0]].0;
            let kinds: Vec<&str> = g.members.iter().map(|&i| flights[i].0.kind.as_str()).collect();
            let dropped = first.dropped.clone();
            let mut text = group_label(&kinds);
            if let Some(why) = &dropped {
                text = format!("{text} ✕ {why}");
            }
            if labelled {
                if let Some(r) = placer.place(g.at, m.dot_r, m.text_w(&text), m.label_h()) {
                    labels.push(label(r, text.clone(), if dropped.is_some() { "drop-label" } else { "msg-label" }));
                }
            }
            let n = g.members.len();
            html! {
                <g class={classes!("msg", first.kind.to_ascii_lowercase(), (n > 1).then_some("stack"), dropped.is_some().then_some("dropped"))}
                   data-msg-type={first.kind.clone()} data-msg-count={n.to_string()}
                   data-from={first.from.to_string()} data-to={first.to.to_string()}
                   transform={format!("translate({:.1},{:.1})", g.at.0, g.at.1)}>
                    <circle r={format!("{:.1}", m.dot_r)} />
                    if n > 1 { <circle class="ring" r={format!("{:.1}", m.dot_r + 3.0)} /> }
                    <title>{format!("{text} S{} → S{}", first.from, first.to)}</title>
                </g>
            }
        })
        .collect();

    let lines_per_box = m.lines.saturating_sub(1);
    let servers: Html = sids
        .iter()
        .enumerate()
        .map(|(i, sid)| {
            let sid = *sid;
            let s = &m_.servers[&sid];
            let b = l.box_rect(i);
            let state = s.state_name();
            let phase = s.status.as_ref().filter(|_| s.connected).map(|p| p.phase.name()).unwrap_or("DOWN");
            let (logged, applied) = s
                .status
                .as_ref()
                .map(|p| (p.last_logged_zxid.to_string(), p.last_processed_zxid.to_string()))
                .unwrap_or_default();
            let selected = app.selected == Some(sid);
            let onclick = ctx.link().callback(move |_| Msg::Select(Some(sid)));
            let pid = s.pid.map(|p| format!(" · pid {p}")).unwrap_or_default();
            html! {
                <g key={format!("s{sid}")} class={classes!("server", state.to_ascii_lowercase(), selected.then_some("selected"))}
                   data-node-id={sid.to_string()} data-state={state} data-phase={phase} data-live="true"
                   data-logged-zxid={logged} data-applied-zxid={applied}
                   data-running={s.running.map(|r| r.to_string())}
                   transform={format!("translate({:.1},{:.1})", b.x, b.y)} {onclick}>
                    <rect class="box" width={format!("{:.0}", b.w)} height={format!("{:.0}", b.h)} rx="10" />
                    <text class="title" x={format!("{:.0}", m.pad_px)} y={format!("{:.1}", m.baseline(0))}>{format!("S{sid}")}</text>
                    <text class="state" x={format!("{:.0}", b.w - m.pad_px)} y={format!("{:.1}", m.baseline(0))} text-anchor="end">{state}</text>
                    { for box_lines(s, lines_per_box).into_iter().enumerate().map(|(k, (text, dim))| html! {
                        <text x={format!("{:.0}", m.pad_px)} y={format!("{:.1}", m.baseline(k + 1))} class={classes!(dim.then_some("dim"))}>{text}</text>
                    }) }
                    <title>{format!("S{sid} {}{pid}", s.client)}</title>
                </g>
            }
        })
        .collect();

    let (w, h) = (l.width, l.height);
    html! {
        <svg id="cluster" class="cluster" viewBox={format!("0 0 {w:.0} {h:.0}")} width={format!("{w:.0}")} height={format!("{h:.0}")}
             style={format!("font-size:{}px", m.font_px)} data-font-px={m.font_px.to_string()}
             data-in-flight={flights.len().to_string()} data-groups={groups.len().to_string()}>
            <defs>
                <marker id="arrow-cut" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse">
                    <path d="M0,0 L10,5 L0,10 z" class="arrow cut" />
                </marker>
            </defs>
            <g class="links">{links}</g>
            <g class="servers">{servers}</g>
            <g class="labels">{labels}</g>
            <g class="messages">{messages}</g>
        </svg>
    }
}

fn toolbar(app: &LiveApp, ctx: &Context<LiveApp>) -> Html {
    let link = ctx.link();
    let m = &app.model;
    let skipped: u64 = m.servers.values().map(|s| s.skipped).sum::<u64>() + app.page_dropped;
    let open_ok = link.callback(Msg::Open);
    let open_err = link.callback(Msg::OpenError);
    let open = Callback::from(move |e: Event| {
        let input = e.target_unchecked_into::<web_sys::HtmlInputElement>();
        crate::files::read_file(&input, open_ok.clone(), open_err.clone());
    });
    let to_sim = Callback::from(|_| crate::browser::navigate(&crate::browser::base_url()));
    let recorded = m.recorded.len();
    html! {
        <header class="toolbar">
            <h1>{"ZabLab"}</h1>
            <button id="to-simulator" onclick={to_sim} title="the simulated cluster">{"Simulator"}</button>
            <span class="mode live-mode" id="live-mode">{ match &app.replay {
                Some(_) => "Replay of a live session (read-only)".to_string(),
                None => format!("Live cluster · {} servers", m.servers.len()),
            } }</span>
            <span class="clock" id="live-rate" data-rate={format!("{:.0}", app.rate)} data-skipped={skipped.to_string()}>
                { format!("{:.0} events/s · skipped {skipped}", app.rate) }
            </span>
            <span class="spacer" />
            <button id="live-save" onclick={link.callback(|_| Msg::Save)} disabled={recorded == 0} data-records={recorded.to_string()}
                    title={format!("the session in the one trace format: {recorded} records{}", if m.unrecorded > 0 { " (the recording is full)" } else { "" })}>
                {"Save"}
            </button>
            <button id="live-replay" onclick={link.callback(|_| Msg::ReplayRecorded)} disabled={recorded == 0} title="scrub this session, read-only">{"Replay"}</button>
            <label class="file" title="replay a saved session">{"Open "}<input id="live-open" type="file" accept=".jsonl,.json,text/plain" onchange={open} /></label>
            if app.replay.is_some() {
                <button id="live-back" onclick={link.callback(|_| Msg::BackToLive)}>{"Back to live"}</button>
            }
            <button id="large" onclick={link.callback(|_| Msg::ToggleLarge)} aria-pressed={app.large.to_string()}>{"Large type"}</button>
        </header>
    }
}

/// The selected server: actions on its process and links, then its vote box, learners, log.
fn inspector(app: &LiveApp, ctx: &Context<LiveApp>) -> Html {
    let link = ctx.link();
    let m = app.shown();
    let Some(s) = app.selected.and_then(|sid| m.servers.get(&sid)) else {
        return html! {
            <section class="panel inspector" id="inspector"><h2>{"Inspector"}</h2>
                <p>{"Click a server: kill or restart its process, cut its links, see its votes and log."}</p>
            </section>
        };
    };
    let sid = s.sid;
    let live = app.api && app.replay.is_none();
    let act = |label: &'static str, id: String, path: String, confirm: Option<&'static str>| {
        let onclick = link.callback(move |_| {
            if let Some(q) = confirm {
                let ok = web_sys::window()
                    .and_then(|w| w.confirm_with_message(q).ok())
                    .unwrap_or(false);
                if !ok {
                    return Msg::Select(Some(sid));
                }
            }
            Msg::Act("POST", path.clone())
        });
        html! { <button id={id} disabled={!live} {onclick}>{label}</button> }
    };
    let running = s.running != Some(false);
    let others: Vec<Sid> = m.servers.keys().copied().filter(|o| *o != sid).collect();
    let link_rows = others.iter().map(|o| {
        let o = *o;
        let (out, inn) = (m.cuts.contains(&(sid, o)), m.cuts.contains(&(o, sid)));
        html! {
            <li data-peer={o.to_string()}>
                {format!("S{sid}→S{o} {} · S{o}→S{sid} {} ", if out { "cut" } else { "ok" }, if inn { "cut" } else { "ok" })}
                {act("cut →", format!("cut-{sid}-{o}"), format!("links/{sid}/{o}/cut"), None)}
                {act("cut ←", format!("cut-{o}-{sid}"), format!("links/{o}/{sid}/cut"), None)}
                {act("cut both", format!("cut-both-{sid}-{o}"), format!("links/{sid}/{o}/cut-both"), None)}
                {act("heal", format!("heal-{sid}-{o}"), format!("links/{sid}/{o}/heal-both"), None)}
            </li>
        }
    });
    html! {
        <section class="panel inspector" id="inspector" data-node-id={sid.to_string()}>
            <h2>{format!("S{sid} · {}", s.state_name())}</h2>
            <p class="detail">{format!("client {} · trace {}{}", s.client, s.trace, s.pid.map(|p| format!(" · pid {p}")).unwrap_or_default())}</p>
            <div class="actions">
                if running {
                    {act("Kill -9", format!("kill-{sid}"), format!("servers/{sid}/kill"), None)}
                } else {
                    {act("Restart", format!("restart-{sid}"), format!("servers/{sid}/restart"), None)}
                    {act("Wipe data dir", format!("wipe-{sid}"), format!("servers/{sid}/wipe?confirm=yes"),
                         Some("Delete this server's snapshots and transaction log? It will rejoin empty (SNAP)."))}
                }
                {act("Heal all links", "heal-all".into(), "links/heal-all".into(), None)}
            </div>
            <ul class="links-list">{ for link_rows }</ul>
            if !s.connected && s.status.is_some() {
                <p class="detail stale">{"Its last status before its trace stream closed:"}</p>
            }
            { s.status.as_ref().map(|p| status_details(p, s.last_time, s.connected)).unwrap_or_default() }
        </section>
    }
}

fn status_details(p: &PeerStatus, now: u64, live: bool) -> Html {
    let votes = p.votes.iter().map(|v| {
        html! { <tr><td>{format!("S{}", v.from)}</td><td>{crate::show::received(&v.vote)}</td>
        <td>{if v.in_round { "this round" } else { "out of election" }}</td></tr> }
    });
    let learners = p.learners.iter().map(|l| {
        html! { <li data-learner={l.sid.to_string()}>
            <b>{format!("S{} ", l.sid)}</b>{format!("{:?} · logged {} · {} unacked", l.stage, l.last_logged_zxid, l.unacked)}
            <br />{l.sync.as_ref().map(crate::show::sync_reason).unwrap_or_default()}</li> }
    });
    // The deadlines count down in this server's own clock (its stream's newest record: under
    // load another stream may lag behind it).
    let timers = p.timers.iter().filter(|_| live).map(|t| {
        let left = t.deadline.0.saturating_sub(now) as f64 / 1000.0;
        html! { <li data-timer={format!("{:?}", t.kind)}>{format!("{:?}: {left:.1} s of {:.1} s", t.kind, t.length_ms as f64 / 1000.0)}</li> }
    });
    let window = p
        .committed_window
        .map(|(a, b)| format!("committed window [{a} .. {b}]"))
        .unwrap_or_default();
    html! {
        <>
            <p class="detail">{format!("{} · {} · leader {} · round {} · {window}",
                p.state.name(), p.phase.name(),
                p.leader.map(|l| format!("S{l}")).unwrap_or_else(|| "–".into()), p.logicclock)}</p>
            <p class="detail">{format!("disk: acceptedEpoch {} · currentEpoch {} · snapshot {} · memory: applied {} · logged {} ({} entries)",
                p.accepted_epoch, p.current_epoch,
                p.snapshot_zxid.map(|z| z.to_string()).unwrap_or_else(|| "none".into()),
                p.last_processed_zxid, p.last_logged_zxid, p.log_len)}</p>
            if !p.votes.is_empty() {
                <h3>{format!("Vote box (my vote {})", vote_short(&p.vote))}</h3>
                <table class="votes" id="live-votes">{ for votes }</table>
            }
            if !p.learners.is_empty() {
                <h3>{"Learners and their sync"}</h3>
                <ul class="learners" id="live-learners">{ for learners }</ul>
            }
            if live && !p.timers.is_empty() {
                <h3>{"Timers"}</h3>
                <ul class="timers" id="live-timers">{ for timers }</ul>
            }
        </>
    }
}

/// Every server's log as a column, rows by zxid (the newest [`LOG_ROWS`]).
fn logs(m: &LiveModel) -> Html {
    let mut zxids: Vec<_> = m
        .servers
        .values()
        .filter_map(|s| s.status.as_ref())
        .flat_map(|p| p.log.iter().map(|e| e.zxid))
        .collect();
    zxids.sort_unstable();
    zxids.dedup();
    let rows: Vec<_> = zxids.iter().rev().take(LOG_ROWS).collect();
    let head = m
        .servers
        .keys()
        .map(|s| html! { <th>{format!("S{s}")}</th> });
    let body = rows.iter().map(|z| {
        let cells = m.servers.values().map(|s| {
            let e = s
                .status
                .as_ref()
                .and_then(|p| p.log.iter().find(|e| e.zxid == **z));
            match e {
                Some(e) => {
                    html! { <td class={classes!(if e.applied { "applied" } else { "pending" })}
                                       data-node-id={s.sid.to_string()} data-zxid={z.to_string()}>
                    {format!("{}{}", e.label, if e.applied { "" } else { " (not applied)" })}</td> }
                }
                None => html! { <td class="absent">{"–"}</td> },
            }
        });
        html! { <tr><th>{z.to_string()}</th>{ for cells }</tr> }
    });
    html! {
        <section class="panel live-logs" id="live-logs">
            <h2>{"Logs side by side (newest first)"}</h2>
            <table><tr><th>{"zxid"}</th>{ for head }</tr>{ for body }</table>
        </section>
    }
}

fn client_form(app: &LiveApp, ctx: &Context<LiveApp>) -> Html {
    let link = ctx.link();
    let value = |e: InputEvent| {
        e.target_unchecked_into::<web_sys::HtmlInputElement>()
            .value()
    };
    let via = app
        .form
        .via
        .or_else(|| app.model.servers.keys().next().copied());
    let choose = link.callback(|e: Event| {
        let v = e
            .target_unchecked_into::<web_sys::HtmlSelectElement>()
            .value();
        Msg::Via(v.parse().unwrap_or(1))
    });
    let live = app.api && app.replay.is_none();
    let result = match &app.form.result {
        Some(Ok(t)) => html! { <p id="live-result" class="ok">{t.clone()}</p> },
        Some(Err(e)) => html! { <p id="live-result" class="error">{e.clone()}</p> },
        None => html! {},
    };
    html! {
        <section class="panel write" id="live-client">
            <h2>{"Client"}</h2>
            <label>{"through "}<select id="live-via" onchange={choose}>
                { for app.model.servers.keys().map(|s| html! { <option value={s.to_string()} selected={via == Some(*s)}>{format!("S{s}")}</option> }) }
            </select></label>
            <label>{" path "}<input id="live-path" value={app.form.path.clone()} oninput={link.callback(move |e| Msg::Path(value(e)))} /></label>
            <label>{" data "}<input id="live-data" value={app.form.data.clone()} oninput={link.callback(move |e| Msg::Data(value(e)))} /></label>
            <button id="live-write" disabled={!live} onclick={link.callback(|_| Msg::Write)}>{"Write"}</button>
            <button id="live-read" disabled={!live} onclick={link.callback(|_| Msg::Read)}>{"Read"}</button>
            {result}
        </section>
    }
}

fn timeline(app: &LiveApp, ctx: &Context<LiveApp>) -> Html {
    let m = app.shown();
    let first = m.first.unwrap_or(0);
    let empty = m.events.is_empty().then(|| html! {
        <li class="m-life">{"Nothing has happened since the page joined: kill a server, cut a link or write."}</li>
    });
    let entries = m.events.iter().rev().take(40).map(|e| {
        html! { <li class={e.marker.class()} data-node-id={e.node.to_string()}>
            {format!("+{:.1} s  S{}  {}{}", e.time.saturating_sub(first) as f64 / 1000.0, e.node, e.text,
                if e.count > 1 { format!(" (×{})", e.count) } else { String::new() })}</li> }
    });
    let scrub = app.replay.as_ref().map(|r| {
        let n = r.records.len();
        let oninput = ctx.link().callback(|e: InputEvent| {
            Msg::Scrub(e.target_unchecked_into::<web_sys::HtmlInputElement>().value().parse().unwrap_or(0))
        });
        html! {
            <div class="scrub">
                <input id="live-scrub" type="range" min="0" max={n.to_string()} value={r.at.to_string()} {oninput} />
                <output>{format!("record {} of {n} · +{:.1} s", r.at, r.model.latest.saturating_sub(r.records.first().map(|x| x.time.0).unwrap_or(0)) as f64 / 1000.0)}</output>
            </div>
        }
    });
    html! {
        <section class="timeline live-timeline" id="live-timeline">
            {scrub.unwrap_or_default()}
            <ul class="events">{ for entries }{empty.unwrap_or_default()}</ul>
        </section>
    }
}

pub fn page(app: &LiveApp, ctx: &Context<LiveApp>) -> Html {
    let m = app.shown();
    let leaders = m.leaders();
    let notice = app
        .notice
        .as_ref()
        .map(|n| html! { <div id="live-notice" class="share">{n.clone()}</div> });
    html! {
        <div id="lab" class={classes!("lab", "live", app.large.then_some("large"))} data-live="true"
             data-api={app.api.to_string()} data-replay={app.replay.is_some().to_string()}
             data-leader={leaders.first().map(|l| l.to_string()).unwrap_or_default()}
             data-leaders={leaders.len().to_string()}>
            {toolbar(app, ctx)}
            {notice}
            <div class="body">
                <main class="stage">
                    <div id="diagram">{diagram(app, ctx)}</div>
                    {timeline(app, ctx)}
                </main>
                <aside class="side">
                    {inspector(app, ctx)}
                    {client_form(app, ctx)}
                    {logs(m)}
                </aside>
            </div>
        </div>
    }
}
