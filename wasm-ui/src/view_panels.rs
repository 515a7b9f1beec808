//! The inspector: a message's fields, a server's election state (vote box with the "why"),
//! disk apart from memory, the znode tree, and on a leader why each learner got
//! DIFF/TRUNC/SNAP; a link's faults. Everything read from the core's accessors.

use yew::prelude::*;

use zablab_core::sim::{Action, HostEvent};
use zablab_core::trace::TraceEvent;
use zablab_core::tree::DataTree;
use zablab_core::Sid;

use crate::app::{App, Field, Msg, Selection};
use crate::show;

pub fn inspector(app: &App, ctx: &Context<App>) -> Html {
    match &app.selection {
        Selection::None => html! {
            <section id="inspector" class="panel hint">
                <h2>{"Inspector"}</h2>
                <p>{"Click a server, a message or a link. Space: play/pause · →: next event · ←: step back."}</p>
            </section>
        },
        Selection::Message(m) => html! {
            <section id="inspector" class="panel">
                <h2 id="msg-inspector" data-msg-id={m.msg_id.to_string()}>{format!("Message #{}: S{} → S{}", m.msg_id, m.from, m.to)}</h2>
                <table class="fields">
                    <tr><th>{"from"}</th><td>{m.from}</td></tr>
                    <tr><th>{"to"}</th><td>{m.to}</td></tr>
                    <tr><th>{"sent at"}</th><td>{format!("{} ms", m.sent)}</td></tr>
                    <tr><th>{"arrives at"}</th><td>{format!("{} ms", m.arrives)}</td></tr>
                    { for m.fields.iter().map(|(k, v)| html!{ <tr><th>{k}</th><td>{v}</td></tr> }) }
                </table>
            </section>
        },
        Selection::Link(a, b) => link_panel(app, ctx, *a, *b),
        Selection::Server(sid) => server_panel(app, ctx, *sid),
    }
}

fn link_panel(app: &App, ctx: &Context<App>, a: Sid, b: Sid) -> Html {
    let c = app.cluster();
    let desc = |from: Sid, to: Sid| {
        let l = c.link(from, to);
        let mut s = if l.cut {
            "cut".to_string()
        } else {
            "up".to_string()
        };
        if l.extra_ms > 0 {
            s += &format!(", +{} ms", l.extra_ms);
        }
        if l.drop_per_million > 0 {
            s += &format!(", drops {:.1}%", l.drop_per_million as f64 / 10_000.0);
        }
        format!("S{from} → S{to}: {s}")
    };
    let act = |a: Action<_>| ctx.link().callback(move |_| Msg::Act(a.clone()));
    let delay = ctx.link().callback(|e: InputEvent| {
        Msg::Form(Field::LinkDelay(
            e.target_unchecked_into::<web_sys::HtmlInputElement>()
                .value()
                .parse()
                .unwrap_or(0),
        ))
    });
    let drop = ctx.link().callback(|e: InputEvent| {
        Msg::Form(Field::LinkDropPct(
            e.target_unchecked_into::<web_sys::HtmlInputElement>()
                .value()
                .parse()
                .unwrap_or(0.0),
        ))
    });
    html! {
        <section id="inspector" class="panel" data-link={format!("{a}-{b}")}>
            <h2>{format!("Link S{a} ⇄ S{b}")}</h2>
            <p>{desc(a, b)}<br/>{desc(b, a)}</p>
            <div class="buttons">
                <button data-action="cut-both" onclick={act(Action::Cut { from: a, to: b, both: true })}>{"Cut both ways"}</button>
                <button data-action="cut-ab" onclick={act(Action::Cut { from: a, to: b, both: false })}>{format!("Cut S{a}→S{b}")}</button>
                <button data-action="cut-ba" onclick={act(Action::Cut { from: b, to: a, both: false })}>{format!("Cut S{b}→S{a}")}</button>
                <button data-action="heal" onclick={act(Action::Heal { from: a, to: b, both: true })}>{"Heal"}</button>
                <button data-action="drop-next" onclick={act(Action::DropNext { from: a, to: b })}>{format!("Drop next S{a}→S{b}")}</button>
            </div>
            <label>{"extra delay (ms) "}<input type="number" min="0" max="60000" value={app.link_delay_ms.to_string()} oninput={delay} /></label>
            <label>{" drop rate (%) "}<input type="number" min="0" max="100" step="0.5" value={app.link_drop_pct.to_string()} oninput={drop} /></label>
            <button data-action="set-link" onclick={ctx.link().callback(move |_| Msg::ApplyLinkSettings(a, b))}>{"Apply both ways"}</button>
        </section>
    }
}

fn znodes(tree: &DataTree) -> Html {
    let paths: Vec<String> = tree
        .subtree("/")
        .into_iter()
        .filter(|p| p != "/" && !p.starts_with("/zookeeper"))
        .collect();
    if paths.is_empty() {
        return html! { <p class="dim">{"(no znodes yet: send a write)"}</p> };
    }
    html! {
        <ul class="znodes">
            { for paths.iter().map(|p| {
                let (data, version) = match tree.get_data(&[], p) {
                    Ok((d, stat)) => (d.map(|d| String::from_utf8_lossy(&d).into_owned()).unwrap_or_else(|| "null".into()), stat.version),
                    Err(_) => (String::from("?"), 0),
                };
                let depth = p.matches('/').count().saturating_sub(1);
                html! { <li data-znode={p.clone()} style={format!("padding-left:{}em", depth)}>
                    <code>{p}</code>{" = "}<code>{format!("\"{data}\"")}</code><span class="dim">{format!(" v{version}")}</span></li> }
            }) }
        </ul>
    }
}

fn server_panel(app: &App, ctx: &Context<App>, sid: Sid) -> Html {
    let c = app.cluster();
    let Some(node) = c.nodes().get(&sid) else {
        return html! {};
    };
    let act = |a: Action<_>| ctx.link().callback(move |_| Msg::Act(a.clone()));
    let running = node.peer.is_some();
    // A lesson may set servers up that have not been started yet.
    let started = running
        || c.trace()
            .records()
            .iter()
            .any(|r| r.node == sid && matches!(r.event, HostEvent::Started | HostEvent::Restarted));
    let controls = html! {
        <div class="buttons">
            if running {
                <button data-action="kill" onclick={act(Action::Crash(sid))}>{"Kill"}</button>
                <button data-action="isolate" onclick={act(Action::Isolate(sid))}>{"Cut all its links"}</button>
            } else {
                if started {
                    <button data-action="restart" onclick={act(Action::Restart(sid))}>{"Restart"}</button>
                } else {
                    <button data-action="start" onclick={act(Action::Start(sid))}>{"Start"}</button>
                }
            }
            <button data-action="heal-all" onclick={act(Action::HealAll)}>{"Heal all links"}</button>
            <button data-action="wipe" onclick={act(Action::WipeDisk(sid))}>{"Wipe disk"}</button>
        </div>
    };
    let d = &node.durable;
    let disk = html! {
        <div class="disk">
            <h3>{"Disk (survives a crash)"}</h3>
            <table class="fields">
                <tr><th>{"acceptedEpoch"}</th><td>{d.accepted_epoch}</td></tr>
                <tr><th>{"currentEpoch"}</th><td>{d.current_epoch}</td></tr>
                <tr><th>{"snapshot"}</th><td>{d.snapshot.as_ref().map(|(z, _)| z.to_string()).unwrap_or_else(|| "none".into())}</td></tr>
                <tr><th>{"txn log"}</th><td>{format!("{} entries", d.log.len())}</td></tr>
            </table>
            <ol class="log">{ for d.log.iter().rev().take(12).map(|e| html!{ <li>{show::entry(e)}</li> }) }</ol>
        </div>
    };
    let Some(p) = node.peer.as_ref() else {
        return html! {
            <section id="inspector" class="panel" data-node-id={sid.to_string()}>
                <h2>{format!("Server S{sid}: DOWN")}</h2>
                {controls}{disk}
            </section>
        };
    };
    let e = p.election();
    // The vote box's "why": this round's VoteReceived events at this server.
    let mut why: Vec<(Sid, String)> = Vec::new();
    for r in c.trace().records().iter().rev() {
        if r.node != sid {
            continue;
        }
        match &r.event {
            HostEvent::Peer(TraceEvent::ElectionRound { .. }) => break,
            HostEvent::Peer(TraceEvent::VoteReceived {
                from,
                notification,
                decision,
                proposal,
            }) if !why.iter().any(|(f, _)| f == from) => {
                why.push((
                    *from,
                    show::decision(*decision, &notification.vote(), proposal),
                ));
            }
            _ => {}
        }
    }
    let vote = p.vote();
    let election = html! {
        <div class="election">
            <h3>{"FastLeaderElection"}</h3>
            <table class="fields">
                <tr><th>{"logicclock"}</th><td data-field="logicclock">{e.logicclock}</td></tr>
                <tr><th>{"vote"}</th><td data-field="vote">{format!("{} peer_epoch {}", show::vote_short(&vote), vote.peer_epoch)}</td></tr>
            </table>
            <h4>{"Vote box (recvset)"}</h4>
            <table class="votebox">
                <tr><th>{"from"}</th><th>{"vote"}</th><th>{"why I changed or kept mine"}</th></tr>
                { for e.recvset.iter().map(|(from, v)| {
                    let reason = why.iter().find(|(f, _)| f == from).map(|(_, s)| s.clone()).unwrap_or_default();
                    html!{ <tr data-voter={from.to_string()}><td>{format!("S{from}")}</td><td>{show::received(v)}</td><td>{reason}</td></tr> }
                }) }
            </table>
            {crate::view_timers::vote_status(app, p)}
            <h4>{"outofelection"}</h4>
            <ul>{ for e.outofelection.iter().map(|(from, v)| html!{ <li>{format!("S{from}: {}", show::received(v))}</li> }) }</ul>
        </div>
    };
    let pending: Vec<String> = if let Some(l) = p.leader() {
        l.outstanding
            .values()
            .map(|o| format!("{} acks {:?}", show::entry(&o.entry), o.acks))
            .collect()
    } else if let Some(l) = p.learner() {
        l.not_logged
            .iter()
            .map(|e| format!("{} (not logged yet)", show::entry(e)))
            .collect()
    } else {
        Vec::new()
    };
    let memory = html! {
        <div class="memory">
            <h3>{"Memory (lost on a crash)"}</h3>
            <table class="fields">
                <tr><th>{"lastProcessedZxid"}</th><td>{p.last_processed_zxid().to_string()}</td></tr>
                <tr><th>{"lastLoggedZxid"}</th><td>{p.last_logged_zxid().to_string()}</td></tr>
                <tr><th>{"committed log"}</th><td>{format!("{} entries", p.committed_log().len())}</td></tr>
            </table>
            <ol class="log">{ for p.committed_log().iter().rev().take(8).map(|e| html!{ <li>{show::entry(e)}</li> }) }</ol>
            <h4>{"Pending proposals"}</h4>
            <ul>{ for pending.iter().map(|s| html!{ <li>{s}</li> }) }</ul>
            <h4>{"znodes"}</h4>
            {znodes(p.machine())}
        </div>
    };
    let sync = match p.leader() {
        Some(l) => html! {
            <div class="sync">
                <h3>{format!("Leader, epoch {} — learners", l.epoch)}</h3>
                <table class="fields">
                    { for l.learners.values().map(|h| html!{
                        <tr data-learner={h.sid.to_string()} data-sync={h.sync.map(|s| s.mode.name()).unwrap_or("")}>
                            <th>{format!("S{} {:?}", h.sid, h.stage)}</th>
                            <td>{h.sync.as_ref().map(show::sync_reason).unwrap_or_else(|| "not synced yet".into())}</td>
                        </tr>
                    }) }
                </table>
            </div>
        },
        None => match p.learner() {
            Some(l) => html! {
                <p>{format!("Following S{} ({:?}), sync by {}", l.leader, l.stage, l.sync_mode.map(|m| m.name()).unwrap_or("-"))}</p>
            },
            None => html! {},
        },
    };
    html! {
        <section id="inspector" class="panel" data-node-id={sid.to_string()}>
            <h2>{format!("Server S{sid}: {} · {}", p.state().name(), p.phase().name())}</h2>
            {controls}
            {sync}
            {election}
            <div class="split">{disk}{memory}</div>
        </section>
    }
}
