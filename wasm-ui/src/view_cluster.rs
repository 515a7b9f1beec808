//! The cluster drawing: servers on an ellipse, a link between every pair, messages moving along
//! the links (each direction on its own lane), and lost messages falling off.
//!
//! Elements carry `data-node-id` / `data-state` (servers) and `data-msg-type` (messages) so
//! tests and people can query the page.

use yew::prelude::*;

use zablab_core::config::LearnerType;
use zablab_core::sim::SimEvent;
use zablab_core::Sid;

use crate::app::{App, Msg, Selection};
use crate::show::vote_short;

pub const WIDTH: f64 = 1000.0;
pub const HEIGHT: f64 = 640.0;
const BOX_W: f64 = 190.0;
const BOX_H: f64 = 100.0;
/// How long (virtual ms) a lost message stays visible while it falls.
const DROP_SHOW_MS: f64 = 250.0;

/// Where server number `i` of `n` sits.
pub fn position(i: usize, n: usize) -> (f64, f64) {
    let (cx, cy) = (WIDTH / 2.0, HEIGHT / 2.0 + 4.0);
    let (rx, ry) = if n <= 3 {
        (300.0, 200.0)
    } else {
        (380.0, 232.0)
    };
    let a = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n as f64;
    (cx + rx * a.cos(), cy + ry * a.sin())
}

/// A point `frac` along the lane from `a` to `b` (lanes are offset so both directions show).
fn lane(a: (f64, f64), b: (f64, f64), frac: f64) -> (f64, f64) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ox, oy) = (-dy / len * 6.0, dx / len * 6.0);
    (a.0 + dx * frac + ox, a.1 + dy * frac + oy)
}

pub fn state_name(app: &App, sid: Sid) -> &'static str {
    match app.cluster().peer(sid) {
        Some(p) => p.state().name(),
        None => "DOWN",
    }
}

pub fn cluster(app: &App, ctx: &Context<App>) -> Html {
    let c = app.cluster();
    let sids = c.ensemble().all();
    let n = sids.len();
    let pos = |sid: Sid| {
        sids.iter()
            .position(|s| *s == sid)
            .map(|i| position(i, n))
            .unwrap_or((0.0, 0.0))
    };
    let violators: Vec<Sid> = c.violation().map(|v| v.nodes.clone()).unwrap_or_default();
    // What the lesson's step points at.
    let hl = crate::view_lesson::highlight(app);
    let t = app.view_t;

    let mut links = Vec::new();
    for (i, a) in sids.iter().enumerate() {
        for b in sids.iter().skip(i + 1) {
            let (la, lb) = (c.link(*a, *b), c.link(*b, *a));
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
            let selected = app.selection == Selection::Link(*a, *b);
            let (pa, pb) = (pos(*a), pos(*b));
            let (a, b) = (*a, *b);
            let onclick = ctx
                .link()
                .callback(move |_| Msg::Select(Selection::Link(a, b)));
            links.push(html! {
                <g class={classes!(class, selected.then_some("selected"))} data-link={format!("{a}-{b}")} {onclick}>
                    <line class="hit" x1={pa.0.to_string()} y1={pa.1.to_string()} x2={pb.0.to_string()} y2={pb.1.to_string()} />
                    <line class="wire" x1={pa.0.to_string()} y1={pa.1.to_string()} x2={pb.0.to_string()} y2={pb.1.to_string()} />
                </g>
            });
        }
    }

    let flights = c.in_flight();
    // With hundreds of messages on the wire, labels would only be ink: dots keep their type
    // in `data-msg-type` and their colour.
    let labels = flights.len() <= 150;
    let messages: Html = flights
        .iter()
        .map(|m| {
            let span = (m.arrives.0.saturating_sub(m.sent.0)).max(1) as f64;
            let frac = ((t - m.sent.0 as f64) / span).clamp(0.0, 1.0);
            let (x, y) = lane(pos(m.from), pos(m.to), frac);
            let kind = m.msg.kind();
            let id = m.msg_id;
            let onclick = ctx.link().callback(move |e: MouseEvent| {
                e.stop_propagation();
                Msg::SelectMessage(id)
            });
            let selected = matches!(&app.selection, Selection::Message(s) if s.msg_id == id);
            // With an invariant broken, messages between the servers involved stand out.
            let involved = violators.contains(&m.from) && violators.contains(&m.to);
            let marked = hl.is_some_and(|h| h.messages.iter().any(|k| k == kind));
            html! {
                <g key={id} class={classes!("msg", kind.to_ascii_lowercase(), selected.then_some("selected"), involved.then_some("involved"), marked.then_some("highlight"))}
                   data-msg-type={kind} data-msg-id={id.to_string()} data-highlight={marked.then_some("true")}
                   transform={format!("translate({x:.1},{y:.1})")} {onclick}>
                    <circle r="6" />
                    if labels { <text x="8" y="3">{kind}</text> }
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
        if let SimEvent::Drop {
            from,
            to,
            msg_id,
            kind,
            reason,
        } = &r.event
        {
            let frac = if reason == "crash" { 0.85 } else { 0.35 };
            let (x, y) = lane(pos(*from), pos(*to), frac);
            let fall = age.max(0.0) * 0.5;
            let opacity = (1.0 - age.max(0.0) / DROP_SHOW_MS).clamp(0.0, 1.0);
            drops.push(html! {
                <g key={format!("d{msg_id}")} class="msg dropped" data-msg-type={kind.to_string()} data-dropped={reason.to_string()}
                   transform={format!("translate({x:.1},{:.1})", y + fall)} opacity={format!("{opacity:.2}")}>
                    <circle r="6" />
                    <text x="8" y="3">{format!("{kind} ✕ {reason}")}</text>
                </g>
            });
        }
    }

    let servers: Html = sids
        .iter()
        .map(|sid| {
            let sid = *sid;
            let (x, y) = pos(sid);
            let peer = c.peer(sid);
            let state = state_name(app, sid);
            let observer = c.ensemble().members.get(&sid) == Some(&LearnerType::Observer);
            let onclick = ctx.link().callback(move |_| Msg::Select(Selection::Server(sid)));
            let selected = app.selection == Selection::Server(sid);
            let violating = violators.contains(&sid);
            let (l1, l2, l3, l4, phase, zxid) = match peer {
                Some(p) => {
                    let z = p.last_logged_zxid();
                    (
                        format!("epoch {} · acc {}", p.current_epoch(), p.accepted_epoch()),
                        format!("zxid {z}"),
                        format!("vote {}", vote_short(&p.vote())),
                        format!("applied {}", p.last_processed_zxid()),
                        p.phase().name(),
                        z.to_string(),
                    )
                }
                None => {
                    let d = &c.nodes()[&sid].durable;
                    (
                        format!("disk: epoch {} · acc {}", d.current_epoch, d.accepted_epoch),
                        format!("disk zxid {}", d.last_logged_zxid()),
                        if c.nodes()[&sid].started { "crashed" } else { "not started" }.to_string(),
                        String::new(),
                        "DOWN",
                        d.last_logged_zxid().to_string(),
                    )
                }
            };
            let label = if observer { format!("S{sid}·obs") } else { format!("S{sid}") };
            let marked = hl.is_some_and(|h| h.servers.contains(&sid));
            let zxid_marked = hl.is_some_and(|h| h.zxids.contains(&zxid));
            html! {
                <g key={format!("s{sid}")} class={classes!("server", state.to_ascii_lowercase(), selected.then_some("selected"), violating.then_some("violating"), marked.then_some("highlight"))}
                   data-node-id={sid.to_string()} data-state={state} data-phase={phase} data-zxid={zxid}
                   data-highlight={marked.then_some("true")}
                   data-role={if observer { "observer" } else { "participant" }}
                   transform={format!("translate({:.1},{:.1})", x - BOX_W / 2.0, y - BOX_H / 2.0)} {onclick}>
                    <rect class="box" width={BOX_W.to_string()} height={BOX_H.to_string()} rx="10" />
                    <text class="title" x="10" y="20">{label}</text>
                    <text class="state" x={(BOX_W - 10.0).to_string()} y="20" text-anchor="end">{state}</text>
                    <text x="10" y="39">{l1}</text>
                    <text x="10" y="56" class={classes!(zxid_marked.then_some("hl"))}>{l2}</text>
                    <text x="10" y="73">{l3}</text>
                    <text x="10" y="90" class="dim">{format!("{l4} {phase}")}</text>
                </g>
            }
        })
        .collect();

    let in_flight = flights.len();
    html! {
        <svg id="cluster" class="cluster" viewBox={format!("0 0 {WIDTH} {HEIGHT}")} preserveAspectRatio="xMidYMid meet"
             data-in-flight={in_flight.to_string()}>
            <g class="links">{links}</g>
            <g class="messages">{messages}</g>
            <g class="drops">{drops}</g>
            <g class="servers">{servers}</g>
        </svg>
    }
}
