//! All logs side by side: one column per server, one row per zxid, so DIFF,
//! TRUNC and SNAP can be read at a glance instead of by clicking servers one at a time.
//!
//! A cell says where that transaction is on that server: on disk and in memory ("logged"),
//! appended but not yet durable ("fsync…"), received during a sync and not yet logged
//! ("queued"), only on a disk whose process is down, or inside the snapshot. Committed cells
//! (at or below the server's lastProcessedZxid) are green, uncommitted ones amber. Each column
//! marks lastLogged and lastProcessed; the leader's column brackets its committed window
//! [minCommittedLog, maxCommittedLog]; a learner's column shows the last sync decision a leader
//! made for it (`TraceEvent::SyncChosen`): the TRUNC point and the rows it cut, the DIFF range,
//! or the SNAP, with the leader's reason. A violated invariant's zxids are outlined in red.
//!
//! Test hooks: `#logs[data-servers]`, `th[data-log-server]`, `td[data-zxid][data-server][data-cell]`,
//! `[data-sync-mark][data-learner]`.

use std::collections::BTreeSet;

use yew::prelude::*;

use zablab_core::lesson::Lang;
use zablab_core::sim::HostEvent;
use zablab_core::trace::{SyncMode, SyncReason, TraceEvent};
use zablab_core::{Sid, Zxid};

use crate::app::{App, Msg, StageView};
use crate::lab::LabCluster;
use crate::view_lesson::tr;

/// Rows shown at most (the newest; the count of older ones is printed above them).
const MAX_ROWS: usize = 14;

/// The last sync decision a leader made for a learner.
#[derive(Clone, Copy)]
struct Decision {
    leader: Sid,
    time_ms: u64,
    mode: SyncMode,
    reason: SyncReason,
    peer_last: Zxid,
    target: Zxid,
}

fn decisions(c: &LabCluster) -> Vec<(Sid, Decision)> {
    let mut out: Vec<(Sid, Decision)> = Vec::new();
    for r in c.trace().records().iter().rev() {
        if let HostEvent::Peer(TraceEvent::SyncChosen {
            learner,
            mode,
            reason,
            peer_last_zxid,
            target,
            ..
        }) = &r.event
        {
            if !out.iter().any(|(l, _)| l == learner) {
                out.push((
                    *learner,
                    Decision {
                        leader: r.node,
                        time_ms: r.time.0,
                        mode: *mode,
                        reason: *reason,
                        peer_last: *peer_last_zxid,
                        target: *target,
                    },
                ));
            }
        }
    }
    out
}

/// What one server holds, read from the cluster.
struct Column {
    sid: Sid,
    title: String,
    running: bool,
    memory: BTreeSet<Zxid>,
    disk: BTreeSet<Zxid>,
    queued: BTreeSet<Zxid>,
    snapshot: Option<Zxid>,
    last_logged: Zxid,
    last_processed: Option<Zxid>,
    window: Option<(Zxid, Zxid)>,
    decision: Option<Decision>,
}

fn columns(c: &LabCluster) -> Vec<Column> {
    let decisions = decisions(c);
    c.nodes()
        .iter()
        .map(|(sid, n)| {
            let disk: BTreeSet<Zxid> = n.durable.log.iter().map(|e| e.zxid).collect();
            let durable_snapshot = n.durable.snapshot.as_ref().map(|(z, _)| *z);
            let decision = decisions.iter().find(|(l, _)| l == sid).map(|(_, d)| *d);
            match n.peer.as_ref() {
                Some(p) => Column {
                    sid: *sid,
                    title: format!("{} · {}", p.state().name(), p.phase().name()),
                    running: true,
                    memory: p.log().iter().map(|e| e.zxid).collect(),
                    disk,
                    queued: p
                        .learner()
                        .map(|l| l.not_logged.iter().map(|e| e.zxid).collect())
                        .unwrap_or_default(),
                    snapshot: p.snapshot_zxid().or(durable_snapshot),
                    last_logged: p.last_logged_zxid(),
                    last_processed: Some(p.last_processed_zxid()),
                    window: p.leader().and_then(|_| {
                        let log = p.committed_log();
                        Some((log.front()?.zxid, log.back()?.zxid))
                    }),
                    decision,
                },
                None => Column {
                    sid: *sid,
                    title: "DOWN".into(),
                    running: false,
                    memory: BTreeSet::new(),
                    last_logged: n.durable.last_logged_zxid(),
                    disk,
                    queued: BTreeSet::new(),
                    snapshot: durable_snapshot,
                    last_processed: None,
                    window: None,
                    decision,
                },
            }
        })
        .collect()
}

fn mode_label(lang: Lang, d: &Decision) -> String {
    match d.mode {
        SyncMode::Trunc => format!("✂ TRUNC → {}", d.target),
        SyncMode::Diff => format!("DIFF {} → {}", d.peer_last, d.target),
        SyncMode::Snap => format!("SNAP {} {}", tr(lang, "up to", "至"), d.target),
    }
}

/// The sync mark a learner's cell carries, if any.
fn mark(d: &Decision, z: Zxid) -> Option<(&'static str, &'static str)> {
    match d.mode {
        SyncMode::Trunc if z == d.target => Some(("TRUNC", "trunc-point")),
        SyncMode::Trunc if z > d.target && z <= d.peer_last => Some(("TRUNC", "trunc-cut")),
        SyncMode::Diff if z > d.peer_last && z <= d.target => Some(("DIFF", "diff")),
        SyncMode::Snap if z <= d.target => Some(("SNAP", "snap")),
        _ => None,
    }
}

fn cell(lang: Lang, col: &Column, z: Zxid, violating: bool) -> Html {
    let in_memory = col.memory.contains(&z);
    let on_disk = col.disk.contains(&z);
    let in_snapshot = col.snapshot.is_some_and(|s| z <= s) && !in_memory && !on_disk;
    let (kind, text) = if col.queued.contains(&z) {
        ("queued", tr(lang, "queued", "已接收"))
    } else if in_memory && on_disk {
        ("logged", tr(lang, "logged", "已记录"))
    } else if in_memory {
        ("pending", tr(lang, "fsync…", "落盘中…"))
    } else if on_disk && col.running {
        ("disk-only", tr(lang, "disk only", "仅磁盘"))
    } else if on_disk {
        ("logged", tr(lang, "on disk", "磁盘上"))
    } else if in_snapshot {
        ("snapshot", tr(lang, "snapshot", "快照"))
    } else {
        ("none", "")
    };
    let committed = kind != "none" && col.last_processed.is_some_and(|p| z <= p);
    // A server that is down has no lastProcessedZxid: its disk is shown without a verdict.
    let state = match (kind, committed) {
        ("none", _) => None,
        _ if !col.running => Some("down"),
        (_, true) => Some("committed"),
        (_, false) => Some("uncommitted"),
    };
    // The colour says committed or not; the word is kept for what the colour does not say.
    let text = if kind == "logged" && col.running {
        ""
    } else {
        text
    };
    let in_window = col.window.is_some_and(|(lo, hi)| lo <= z && z <= hi);
    let sync = col.decision.as_ref().and_then(|d| mark(d, z));
    let mut tags: Vec<Html> = Vec::new();
    if z == col.last_logged && kind != "none" {
        tags.push(
            html! { <span class="tag logged-mark">{tr(lang, "lastLogged", "lastLogged")}</span> },
        );
    }
    if Some(z) == col.last_processed {
        tags.push(html! { <span class="tag processed-mark">{tr(lang, "lastProcessed", "lastProcessed")}</span> });
    }
    if let (Some((name, class)), Some(d)) = (sync, col.decision.as_ref()) {
        let show = match d.mode {
            SyncMode::Trunc => class == "trunc-point",
            SyncMode::Diff => z == d.target,
            SyncMode::Snap => z == d.target,
        };
        if show {
            tags.push(html! { <span class={classes!("sync-mark", class)} data-sync-mark={name} data-learner={col.sid.to_string()}>{mode_label(lang, d)}</span> });
        }
    }
    html! {
        <td class={classes!("lc", kind, state, in_window.then_some("window"), sync.map(|(_, c)| c), violating.then_some("violating"))}
            data-zxid={z.to_string()} data-server={col.sid.to_string()} data-cell={kind}>
            <span class="what">{text}</span>{ for tags }
        </td>
    }
}

fn header(lang: Lang, col: &Column, violators: &[Sid]) -> Html {
    let numbers = format!(
        "lastLogged {} · lastProcessed {}",
        col.last_logged,
        col.last_processed
            .map(|z| z.to_string())
            .unwrap_or_else(|| "-".into())
    );
    let window = col.window.map(|(lo, hi)| {
        html! { <div class="window-label">{format!("committedLog [{lo} … {hi}]")}</div> }
    });
    let sync = col.decision.as_ref().map(|d| {
        html! {
            <div class={classes!("sync-line", d.mode.name().to_ascii_lowercase())} data-sync-mode={d.mode.name()} data-sync-reason={d.reason.name()}>
                <strong>{format!("{} ", mode_label(lang, d))}</strong>
                {format!("{} S{} @ {} ms: {}", tr(lang, "by", "由"), d.leader, d.time_ms, d.reason.describe())}
            </div>
        }
    });
    html! {
        <th data-log-server={col.sid.to_string()} class={classes!(violators.contains(&col.sid).then_some("violating"), (!col.running).then_some("down"))}>
            <div class="who">{format!("S{} ", col.sid)}<span class="state">{&col.title}</span></div>
            <div class="numbers">{numbers}</div>
            {window}{sync}
        </th>
    }
}

pub fn logs(app: &App) -> Html {
    let lang = app.lang;
    let c = app.cluster();
    let cols = columns(c);
    let mut rows: BTreeSet<Zxid> = BTreeSet::new();
    for col in &cols {
        rows.extend(col.memory.iter().chain(&col.disk).chain(&col.queued));
        rows.extend(col.snapshot);
        // A decision's zxids, so the TRUNC point and what it cut stay visible (an empty
        // DIFF to 0:0 at start-up adds no row).
        if let Some(d) = &col.decision {
            if d.mode == SyncMode::Trunc {
                rows.insert(d.peer_last);
            }
            if d.target != Zxid::ZERO || d.mode == SyncMode::Trunc {
                rows.insert(d.target);
            }
        }
    }
    let violation = c.violation();
    let bad: Vec<Zxid> = violation.map(|v| v.zxids.clone()).unwrap_or_default();
    let violators: Vec<Sid> = violation.map(|v| v.nodes.clone()).unwrap_or_default();
    let hidden = rows.len().saturating_sub(MAX_ROWS);
    let shown: Vec<Zxid> = rows.iter().copied().skip(hidden).collect();
    let body: Html = shown
        .iter()
        .rev()
        .map(|z| {
            let violating = bad.contains(z);
            html! {
                <tr class={classes!(violating.then_some("violating"))} data-row-zxid={z.to_string()}>
                    <th class="zxid">{z.to_string()}</th>
                    { for cols.iter().map(|col| cell(lang, col, *z, violating)) }
                </tr>
            }
        })
        .collect();
    html! {
        <section id="logs" class="panel logs" data-servers={cols.len().to_string()}>
            <h2>{tr(lang, "All logs side by side", "所有日志并排")}
                <span class="legend">
                    <i class="lc logged committed" />{tr(lang, "committed", "已提交")}
                    <i class="lc logged uncommitted" />{tr(lang, "uncommitted", "未提交")}
                    <i class="lc pending uncommitted" />{tr(lang, "not on disk yet", "尚未落盘")}
                </span>
            </h2>
            if rows.is_empty() {
                <p class="dim">{tr(lang, "No transaction yet: send a write.", "还没有事务：发送一个写请求。")}</p>
            } else {
                <div class="logs-scroll">
                    <table class="logs">
                        <thead><tr><th class="zxid">{"zxid"}</th>{ for cols.iter().map(|col| header(lang, col, &violators)) }</tr></thead>
                        <tbody>
                            {body}
                            if hidden > 0 {
                                <tr class="older"><td colspan={(cols.len() + 1).to_string()}>{format!("… {hidden} {}", tr(lang, "older zxids", "个更早的 zxid"))}</td></tr>
                            }
                        </tbody>
                    </table>
                </div>
            }
        </section>
    }
}

/// The stage's view switch (diagram, logs, both), the timers toggle and the museum's picker.
pub fn stage_nav(app: &App, ctx: &Context<App>) -> Html {
    let lang = app.lang;
    let view = |v: StageView, id: &'static str, label: &'static str| {
        let onclick = ctx.link().callback(move |_| Msg::StageView(v));
        let on = app.stage_view == v;
        html! { <button {id} class={classes!("choice", on.then_some("on"))} aria-pressed={on.to_string()} {onclick}>{label}</button> }
    };
    let timers = ctx.link().callback(|_| Msg::ToggleTimers);
    html! {
        <nav class="stage-nav" aria-label="views">
            {view(StageView::Diagram, "view-diagram", tr(lang, "Diagram", "示意图"))}
            {view(StageView::Logs, "view-logs", tr(lang, "Logs side by side", "日志并排"))}
            {view(StageView::Both, "view-both", tr(lang, "Both", "两者"))}
            <button id="toggle-timers" class={classes!("choice", app.show_timers.then_some("on"))} aria-pressed={app.show_timers.to_string()} onclick={timers}>{tr(lang, "Timers", "计时器")}</button>
            <span class="spacer" />
            if app.museum.is_none() { {crate::view_museum::entry(app, ctx)} }
        </nav>
    }
}
