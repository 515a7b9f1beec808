//! Timers on screen: every deadline a server is waiting for, as a countdown
//! in simulated time — finalizeWait and the notification timeout while LOOKING, initLimit and
//! syncLimit on a learner, the leader's quorum check and each learner's syncLimit deadline,
//! session expiry on the leader — read from `Peer::timers` and `DataTree::session_expiry_ms`.
//! Also the vote box's line saying whether a quorum agrees and what the server waits for.
//!
//! Test hooks: `#timers`, `.timer[data-server][data-timer][data-remaining-ms]`,
//! `#vote-status[data-quorum]`.

use yew::prelude::*;

use zablab_core::lesson::Lang;
use zablab_core::peer::{PeerTimer, TimerKind};
use zablab_core::{PeerState, Sid};

use crate::app::App;
use crate::lab::Machine;
use crate::view_lesson::tr;

type LabPeer = zablab_core::Peer<Machine>;

/// (test name, label) of a timer.
fn describe(lang: Lang, kind: TimerKind, leader: Option<Sid>) -> (&'static str, String) {
    match kind {
        TimerKind::FinalizeWait => (
            "finalizeWait",
            tr(
                lang,
                "finalizeWait: a quorum agrees; decide unless a newer vote comes",
                "finalizeWait：已过半同意；若无更新的选票就做决定",
            )
            .into(),
        ),
        TimerKind::NotificationTimeout => (
            "notificationTimeout",
            tr(
                lang,
                "notification timeout: re-send my vote",
                "通知超时：重发我的选票",
            )
            .into(),
        ),
        TimerKind::InitLimit => (
            "initLimit",
            tr(
                lang,
                "initLimit: discovery and sync must finish",
                "initLimit：发现与同步必须完成",
            )
            .into(),
        ),
        TimerKind::SyncLimit => (
            "syncLimit",
            format!(
                "{} S{}",
                tr(
                    lang,
                    "syncLimit: must hear from leader",
                    "syncLimit：必须收到 Leader 的消息"
                ),
                leader.unwrap_or_default()
            ),
        ),
        TimerKind::ConnectRetry => (
            "connectRetry",
            tr(lang, "connect to the leader again", "再次连接 Leader").into(),
        ),
        TimerKind::QuorumCheck => (
            "quorumCheck",
            tr(
                lang,
                "quorum check: are a quorum of voters still synced?",
                "法定人数检查：过半投票者是否仍同步？",
            )
            .into(),
        ),
        TimerKind::LearnerSyncLimit { learner } => (
            "learnerSyncLimit",
            format!(
                "{} S{learner}",
                tr(
                    lang,
                    "syncLimit: must hear from",
                    "syncLimit：必须收到消息，来自"
                )
            ),
        ),
        TimerKind::ProposalAck { learner, zxid } => (
            "proposalAck",
            format!("S{learner} {} {zxid}", tr(lang, "must ACK", "必须确认")),
        ),
    }
}

/// Time left as a projector can read it: ms below ten seconds, then seconds.
fn left(ms: f64) -> String {
    if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

fn countdown(sid: Sid, name: &str, label: String, remaining_ms: f64, length_ms: u64) -> Html {
    let frac = if length_ms == 0 {
        0.0
    } else {
        (remaining_ms / length_ms as f64).clamp(0.0, 1.0)
    };
    let urgent = frac < 0.25;
    html! {
        <div class={classes!("timer", urgent.then_some("urgent"))} data-server={sid.to_string()} data-timer={name.to_string()}
             data-remaining-ms={format!("{remaining_ms:.0}")}>
            <span class="label">{label}</span>
            <span class="bar"><i style={format!("width:{:.1}%", frac * 100.0)} /></span>
            <span class="left">{left(remaining_ms)}</span>
        </div>
    }
}

/// The vote box's summary: does a quorum agree with this server's proposal, and what is it
/// waiting for.
pub fn vote_status(app: &App, p: &LabPeer) -> Html {
    if p.state() != PeerState::Looking {
        return html! {};
    }
    let lang = app.lang;
    let c = app.cluster();
    let e = p.election();
    let agreeing = e.agreeing_with_proposal();
    let voters = c.ensemble().voter_count();
    let need = voters / 2 + 1;
    let names = agreeing
        .iter()
        .map(|s| format!("S{s}"))
        .collect::<Vec<_>>()
        .join(", ");
    let quorum = c.ensemble().is_quorum(&agreeing);
    let text = match e.finalize_deadline {
        Some(d) => format!(
            "{} ({names}) {} S{} — finalizeWait: {} {:.0} ms {}",
            tr(lang, "A quorum", "过半"),
            tr(lang, "agrees on", "同意"),
            e.proposal.vote_id,
            tr(lang, "deciding in", "将在"),
            (d.0 as f64 - app.view_t).max(0.0),
            tr(
                lang,
                "unless a newer vote arrives",
                "后决定，除非收到更新的选票"
            ),
        ),
        None => format!(
            "{} S{}: {} ({names}) — {} {need} / {voters}",
            tr(lang, "No quorum yet for", "尚未过半同意"),
            e.proposal.vote_id,
            agreeing.len(),
            tr(lang, "waiting for", "需要"),
        ),
    };
    html! { <p id="vote-status" class={classes!("vote-status", quorum.then_some("quorum"))} data-quorum={quorum.to_string()}>{text}</p> }
}

pub fn timers(app: &App) -> Html {
    let lang = app.lang;
    let c = app.cluster();
    let now = app.view_t;
    let servers: Html = c
        .nodes()
        .iter()
        .map(|(sid, n)| {
            let Some(p) = n.peer.as_ref() else {
                return html! {
                    <div class="timer-server down" data-timers-of={sid.to_string()}>
                        <strong>{format!("S{sid} ")}</strong><span class="dim">{"DOWN"}</span>
                    </div>
                };
            };
            let rows = p.timers().into_iter().map(|t: PeerTimer| {
                let (name, label) = describe(lang, t.kind, p.leader_id());
                countdown(
                    *sid,
                    name,
                    label,
                    (t.deadline.0 as f64 - now).max(0.0),
                    t.length_ms,
                )
            });
            // Session expiry lives in the leader's data tree.
            let sessions = p.leader().is_some().then(|| {
                p.machine()
                    .sessions()
                    .iter()
                    .filter_map(|(id, s)| {
                        let at = p.machine().session_expiry_ms(*id)?;
                        let label = format!(
                            "{} 0x{id:x} {}",
                            tr(lang, "session", "会话"),
                            tr(lang, "expires", "过期")
                        );
                        Some(countdown(
                            *sid,
                            "sessionExpiry",
                            label,
                            (at as f64 - now).max(0.0),
                            s.timeout_ms.max(0) as u64,
                        ))
                    })
                    .collect::<Html>()
            });
            html! {
                <div class="timer-server" data-timers-of={sid.to_string()}>
                    <strong>{format!("S{sid} ")}</strong><span class="dim">{p.state().name()}</span>
                    { for rows }
                    { sessions }
                </div>
            }
        })
        .collect();
    html! {
        <section id="timers" class="panel timers">
            <h2>{tr(lang, "Timers (simulated time)", "计时器（模拟时间）")}</h2>
            {servers}
        </section>
    }
}
