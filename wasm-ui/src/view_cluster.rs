//! The cluster drawing: servers on an ellipse that fills the measured stage, a link between
//! every pair (a faulty direction drawn as its own arrow with its fault written on it), and
//! messages moving along per-direction lanes from the sender's edge to the receiver's, drawn
//! above the boxes. Co-located messages share a dot with a count; labels never overlap. After
//! a step, the message just delivered flashes at its receiver and a server whose state changed
//! pulses. Geometry is in [`crate::diagram`].
//!
//! Elements carry `data-node-id` / `data-state` (servers) and `data-msg-type` (messages) so
//! tests and people can query the page.

use yew::prelude::*;

use zablab_core::config::LearnerType;
use zablab_core::sim::HostEvent;
use zablab_core::trace::TraceEvent;
use zablab_core::Sid;

use crate::app::{App, Msg, Selection};
use crate::diagram::{
    group, group_label, Layout, Placer, Rect, FONT_LARGE_PX, FONT_PX, MAX_LABELS,
};
use crate::lab::Band;
use crate::show::vote_short;

/// How long (virtual ms) a lost message stays visible while it falls.
const DROP_SHOW_MS: f64 = 250.0;

pub fn state_name(app: &App, sid: Sid) -> &'static str {
    match app.cluster().peer(sid) {
        Some(p) => p.state().name(),
        None => "DOWN",
    }
}

/// True when the timeline shows `sid` down from the start and never up: a server a lesson set
/// up but has not started yet.
fn never_started(app: &App, sid: Sid) -> bool {
    let bands = match &app.lesson {
        Some(m) => &m.bands,
        None => &app.lab.branch().bands,
    };
    bands
        .iter()
        .find(|(s, _)| *s == sid)
        .is_some_and(|(_, row)| row.iter().all(|(_, b, _)| *b == Band::Down))
}

/// The layout for the page's measured stage: the type grows with the stage (a projector at
/// 1920×1080 gets more than the minimum), Large type is 1.3 times as large and never below
/// [`FONT_LARGE_PX`].
pub fn layout(app: &App) -> Layout {
    let (w, h) = app.stage_px;
    // Present mode is for the back row: a quarter larger.
    let fit = w.min(h * 1.6) / if app.present { 56.0 } else { 70.0 };
    let (min, max) = if app.large {
        (FONT_LARGE_PX, (fit * 1.3).clamp(FONT_LARGE_PX, 32.0))
    } else {
        (FONT_PX, fit.clamp(FONT_PX, 24.0))
    };
    let n = app.cluster().ensemble().all().len();
    Layout::new(n, w, h, min.round(), max.round())
}

/// What the step just executed did: (receiver, sender, kind) of each delivered message and the
/// servers whose state or phase changed.
fn marks(app: &App) -> (Vec<(Sid, Sid, String)>, Vec<Sid>) {
    let (mut delivered, mut changed) = (Vec::new(), Vec::new());
    let Some(from) = app.mark_from.filter(|_| !app.playing) else {
        return (delivered, changed);
    };
    let records = app.cluster().trace().records();
    for r in records.iter().skip(from) {
        match &r.event {
            HostEvent::Deliver { from, kind, .. } => {
                delivered.push((r.node, *from, kind.to_string()))
            }
            HostEvent::Peer(TraceEvent::StateChanged { .. })
            | HostEvent::Peer(TraceEvent::PhaseChanged { .. })
            | HostEvent::Crashed
            | HostEvent::Restarted
            | HostEvent::Started
            | HostEvent::Wiped => changed.push(r.node),
            _ => {}
        }
    }
    (delivered, changed)
}

/// One direction's faults as the link label says them (empty: none).
fn fault_text(cut: bool, extra_ms: u64, drop_per_million: u32) -> String {
    let mut parts = Vec::new();
    if cut {
        parts.push("✕ cut".to_string());
    }
    if extra_ms > 0 {
        parts.push(format!("+{extra_ms} ms"));
    }
    if drop_per_million > 0 {
        parts.push(format!("drop {}%", drop_per_million as f64 / 10_000.0));
    }
    parts.join(" · ")
}

fn label(r: Rect, text: String, class: &'static str, data_for: String) -> Html {
    html! {
        <g class={classes!("label", class)} data-for={data_for}>
            <rect class="label-bg" x={format!("{:.1}", r.x)} y={format!("{:.1}", r.y)} width={format!("{:.1}", r.w)} height={format!("{:.1}", r.h)} rx="3" />
            <text x={format!("{:.1}", r.x + 4.0)} y={format!("{:.1}", r.y + r.h * 0.76)}>{text}</text>
        </g>
    }
}

pub fn cluster(app: &App, ctx: &Context<App>) -> Html {
    let c = app.cluster();
    let sids = c.ensemble().all();
    let l = layout(app);
    let m = l.m;
    let idx = |sid: Sid| sids.iter().position(|s| *s == sid).unwrap_or(0);
    let violators: Vec<Sid> = c.violation().map(|v| v.nodes.clone()).unwrap_or_default();
    // What the lesson's step points at.
    let hl = crate::view_lesson::highlight(app);
    let t = app.view_t;
    let boxes: Vec<Rect> = (0..sids.len()).map(|i| l.box_rect(i)).collect();
    // Lines under each box's title: 4 (few servers), 3 (many: the last goes), 2 or 1 (crowded).
    let body_lines = l.m.lines.saturating_sub(1);
    let mut placer = Placer::new(l.width, l.height, boxes);
    let mut labels = Vec::new();

    // Links: the centre wire per pair; a direction with a fault also as its own arrow on its
    // lane, labelled with the fault.
    let mut links = Vec::new();
    for (i, a) in sids.iter().enumerate() {
        for b in sids.iter().skip(i + 1) {
            let (a, b) = (*a, *b);
            let (la, lb) = (c.link(a, b), c.link(b, a));
            let class = if la.cut && lb.cut {
                "link cut"
            } else if la.cut || lb.cut {
                "link cut-one"
            } else if la.extra_ms > 0
                || lb.extra_ms > 0
                || la.drop_per_million > 0
                || lb.drop_per_million > 0
            {
                "link degraded"
            } else {
                "link"
            };
            let selected = app.selection == Selection::Link(a, b);
            let (pa, pb) = (l.centres[idx(a)], l.centres[idx(b)]);
            let onclick = ctx
                .link()
                .callback(move |_| Msg::Select(Selection::Link(a, b)));
            let mut dirs = Vec::new();
            for (from, to, link) in [(a, b, la), (b, a, lb)] {
                let text = fault_text(link.cut, link.extra_ms, link.drop_per_million);
                if text.is_empty() {
                    continue;
                }
                let (s, e) = l.lane(idx(from), idx(to));
                let kind = if link.cut { "dir cut" } else { "dir slow" };
                let marker = if link.cut {
                    "url(#arrow-cut)"
                } else {
                    "url(#arrow-slow)"
                };
                dirs.push(html! {
                    <line class={kind} data-dir={format!("{from}-{to}")} x1={format!("{:.1}", s.0)} y1={format!("{:.1}", s.1)}
                          x2={format!("{:.1}", e.0)} y2={format!("{:.1}", e.1)} marker-end={marker} />
                });
                let at = l.on_lane(idx(from), idx(to), 0.3);
                let text = format!("S{from}→S{to} {text}");
                if let Some(r) = placer.place(at, m.dot_r, m.text_w(&text), m.label_h()) {
                    labels.push(label(r, text, "link-label", format!("{from}-{to}")));
                }
            }
            links.push(html! {
                <g class={classes!(class, selected.then_some("selected"))} data-link={format!("{a}-{b}")} {onclick}>
                    <line class="hit" x1={format!("{:.1}", pa.0)} y1={format!("{:.1}", pa.1)} x2={format!("{:.1}", pb.0)} y2={format!("{:.1}", pb.1)} />
                    <line class="wire" x1={format!("{:.1}", pa.0)} y1={format!("{:.1}", pa.1)} x2={format!("{:.1}", pb.0)} y2={format!("{:.1}", pb.1)} />
                    { for dirs }
                </g>
            });
        }
    }

    // Messages in flight, grouped by spot; the dots are obstacles for every label.
    let flights = c.in_flight();
    let items: Vec<(usize, usize, f64)> = flights
        .iter()
        .map(|f| {
            let span = (f.arrives.0.saturating_sub(f.sent.0)).max(1) as f64;
            let frac = ((t - f.sent.0 as f64) / span).clamp(0.0, 1.0);
            (idx(f.from), idx(f.to), frac)
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
    let (delivered, changed) = marks(app);
    // The delivered message's flash at the receiver's edge, labelled first (it matters most).
    let flashes: Html = delivered
        .iter()
        .map(|(to, from, kind)| {
            let (_, end) = l.lane(idx(*from), idx(*to));
            let text = format!("{kind} delivered");
            if let Some(r) = placer.place(end, m.dot_r * 2.0, m.text_w(&text), m.label_h()) {
                labels.push(label(r, text, "flash-label", format!("{from}-{to}")));
            }
            html! {
                <g class="flash" data-flash-type={kind.clone()} data-node-id-to={to.to_string()}
                   transform={format!("translate({:.1},{:.1})", end.0, end.1)}>
                    <circle r={format!("{:.1}", m.dot_r * 2.2)} />
                </g>
            }
        })
        .collect();
    let labelled = groups.len() <= MAX_LABELS;
    let messages: Html = groups
        .iter()
        .map(|g| {
            let first = &flights[g.members[0]];
            let kinds: Vec<&str> = g.members.iter().map(|&i| flights[i].msg.kind()).collect();
            let kind = kinds[0];
            let id = first.msg_id;
            if labelled {
                let text = group_label(&kinds);
                if let Some(r) = placer.place(g.at, m.dot_r, m.text_w(&text), m.label_h()) {
                    labels.push(label(r, text, "msg-label", id.to_string()));
                }
            }
            let onclick = ctx.link().callback(move |e: MouseEvent| {
                e.stop_propagation();
                Msg::SelectMessage(id)
            });
            let selected = g.members.iter().any(|&i| {
                matches!(&app.selection, Selection::Message(s) if s.msg_id == flights[i].msg_id)
            });
            // With an invariant broken, messages between the servers involved stand out.
            let involved = violators.contains(&first.from) && violators.contains(&first.to);
            let n = g.members.len();
            let marked = hl.is_some_and(|h| kinds.iter().any(|k| h.messages.iter().any(|x| x == k)));
            html! {
                <g key={id} class={classes!("msg", kind.to_ascii_lowercase(), selected.then_some("selected"), involved.then_some("involved"), (n > 1).then_some("stack"), marked.then_some("highlight"))}
                   data-msg-type={kind} data-msg-id={id.to_string()} data-msg-count={n.to_string()}
                   data-highlight={marked.then_some("true")}
                   transform={format!("translate({:.1},{:.1})", g.at.0, g.at.1)} {onclick}>
                    <circle r={format!("{:.1}", m.dot_r)} />
                    if n > 1 { <circle class="ring" r={format!("{:.1}", m.dot_r + 3.0)} /> }
                    <title>{format!("{} S{} → S{}", group_label(&kinds), first.from, first.to)}</title>
                </g>
            }
        })
        .collect();

    // Lost messages of the last moments fall from where they were lost.
    let mut drops = Vec::new();
    for r in c.trace().records().iter().rev() {
        let age = t - r.time.0 as f64;
        if age > DROP_SHOW_MS {
            break;
        }
        if let HostEvent::Drop {
            from,
            to,
            msg_id: Some(msg_id),
            kind,
            reason,
        } = &r.event
        {
            let frac = if reason == "crash" { 0.85 } else { 0.35 };
            let (x, y) = l.on_lane(idx(*from), idx(*to), frac);
            let fall = age.max(0.0) * 0.5;
            let opacity = (1.0 - age.max(0.0) / DROP_SHOW_MS).clamp(0.0, 1.0);
            let text = format!("{kind} ✕ {reason}");
            if let Some(r) = placer.place((x, y), m.dot_r, m.text_w(&text), m.label_h()) {
                labels.push(label(r, text, "drop-label", msg_id.to_string()));
            }
            drops.push(html! {
                <g key={format!("d{msg_id}")} class="msg dropped" data-msg-type={kind.to_string()} data-dropped={reason.to_string()}
                   transform={format!("translate({x:.1},{:.1})", y + fall)} opacity={format!("{opacity:.2}")}>
                    <circle r={format!("{:.1}", m.dot_r)} />
                </g>
            });
        }
    }

    let servers: Html = sids
        .iter()
        .enumerate()
        .map(|(i, sid)| {
            let sid = *sid;
            let b = l.box_rect(i);
            let peer = c.peer(sid);
            let state = state_name(app, sid);
            let observer = c.ensemble().members.get(&sid) == Some(&LearnerType::Observer);
            let onclick = ctx.link().callback(move |_| Msg::Select(Selection::Server(sid)));
            let selected = app.selection == Selection::Server(sid);
            let violating = violators.contains(&sid);
            // Both zxids, named: lastProcessedZxid ("applied") and lastLoggedZxid ("logged"), so a
            // SNAP'd follower does not look ahead of its leader.
            // Each line and what it shows: 1 applied, 2 logged, 3 a dim last line, 0 other.
            let (lines, phase, logged, applied): (Vec<(String, u8)>, _, _, _) = match peer {
                Some(p) => {
                    let vote = format!("vote {}", vote_short(&p.vote()));
                    let epochs =
                        format!("epoch {} · acc {}", p.current_epoch(), p.accepted_epoch());
                    let looking = state == "LOOKING";
                    let applied_line = (format!("applied {}", p.last_processed_zxid()), 1);
                    let logged_line = (format!("logged {}", p.last_logged_zxid()), 2);
                    let lines = match (body_lines, looking) {
                        (4.., true) => vec![(epochs, 0), applied_line, logged_line, (vote, 3)],
                        (4.., false) => vec![
                            (epochs, 0),
                            applied_line,
                            logged_line,
                            (p.phase().name().to_string(), 3),
                        ],
                        (3, true) => vec![(vote, 0), applied_line, logged_line],
                        (3, false) => vec![(epochs, 0), applied_line, logged_line],
                        (2, true) => vec![(vote, 0), logged_line],
                        (2, false) => vec![applied_line, logged_line],
                        _ => vec![logged_line],
                    };
                    (
                        lines,
                        p.phase().name(),
                        p.last_logged_zxid().to_string(),
                        p.last_processed_zxid().to_string(),
                    )
                }
                None => {
                    let d = &c.nodes()[&sid].durable;
                    let why = if never_started(app, sid) {
                        "not started"
                    } else {
                        "crashed"
                    };
                    let disk = format!("disk: epoch {} · acc {}", d.current_epoch, d.accepted_epoch);
                    let logged_line = (format!("logged {} (disk)", d.last_logged_zxid()), 2);
                    let lines = match body_lines {
                        4.. => vec![
                            (disk, 0),
                            ("applied –".to_string(), 1),
                            logged_line,
                            (why.to_string(), 3),
                        ],
                        3 => vec![(why.to_string(), 0), ("applied –".to_string(), 1), logged_line],
                        2 => vec![(why.to_string(), 0), logged_line],
                        _ => vec![logged_line],
                    };
                    (lines, "DOWN", d.last_logged_zxid().to_string(), String::new())
                }
            };
            let title = if observer { format!("S{sid}·obs") } else { format!("S{sid}") };
            let pulse = changed.contains(&sid);
            let marked = hl.is_some_and(|h| h.servers.contains(&sid));
            // The lines whose zxid the step names.
            let names = |z: &String| hl.is_some_and(|h| h.zxids.contains(z));
            let line_class = |what: u8| {
                let marked = match what {
                    1 => names(&applied),
                    2 => names(&logged),
                    _ => false,
                };
                classes!((what == 3).then_some("dim"), marked.then_some("hl"))
            };
            let lines: Vec<(String, Classes)> =
                lines.into_iter().map(|(t, w)| (t, line_class(w))).collect();
            html! {
                <g key={format!("s{sid}")} class={classes!("server", state.to_ascii_lowercase(), selected.then_some("selected"), violating.then_some("violating"), pulse.then_some("pulse"), marked.then_some("highlight"))}
                   data-node-id={sid.to_string()} data-state={state} data-phase={phase} data-zxid={logged.clone()}
                   data-highlight={marked.then_some("true")}
                   data-logged-zxid={logged} data-applied-zxid={applied}
                   data-role={if observer { "observer" } else { "participant" }}
                   transform={format!("translate({:.1},{:.1})", b.x, b.y)} {onclick}>
                    <rect class="box" width={format!("{:.0}", b.w)} height={format!("{:.0}", b.h)} rx="10" />
                    <text class="title" x={format!("{:.0}", m.pad_px)} y={format!("{:.1}", m.baseline(0))}>{title}</text>
                    <text class="state" x={format!("{:.0}", b.w - m.pad_px)} y={format!("{:.1}", m.baseline(0))} text-anchor="end">{state}</text>
                    { for lines.into_iter().enumerate().map(|(k, (text, class))| html! {
                        <text x={format!("{:.0}", m.pad_px)} y={format!("{:.1}", m.baseline(k + 1))} class={class}>{text}</text>
                    }) }
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
                <marker id="arrow-slow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse">
                    <path d="M0,0 L10,5 L0,10 z" class="arrow slow" />
                </marker>
            </defs>
            <g class="links">{links}</g>
            <g class="servers">{servers}</g>
            <g class="labels">{labels}</g>
            <g class="flashes">{flashes}</g>
            <g class="drops">{drops}</g>
            <g class="messages">{messages}</g>
        </svg>
    }
}
