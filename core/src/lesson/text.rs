//! A lesson step as plain text: the narration, the message flow (`2 → 1  NOTIFICATION (2, 0:0)
//! round 1`), each server's state, the checkpoint and the question. The terminal player prints
//! it; the browser can reuse the same lines (e.g. in its log panel).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::check::state_name;
use super::format::Lang;
use super::run::{Fate, FlowMessage, LessonRun, StepReport};

/// How much of the flow to show.
#[derive(Clone, Copy, Debug)]
pub struct FlowOptions {
    /// PINGs every half tick drown everything else; by default they are only counted.
    pub show_pings: bool,
    /// At most this many lines (the rest is summarized).
    pub max_lines: usize,
}

impl Default for FlowOptions {
    fn default() -> FlowOptions {
        FlowOptions {
            show_pings: false,
            max_lines: 40,
        }
    }
}

fn t(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// One message as a line: `  12 ms  2 → 1  NOTIFICATION (2, 0:0) round 1`, with its fate.
pub fn flow_line(m: &FlowMessage, lang: Lang) -> String {
    let mut s = format!("{:>6} ms  {} → {}  {}", m.sent_ms, m.from, m.to, m.kind);
    if !m.detail.is_empty() {
        s.push(' ');
        s.push_str(&m.detail);
    }
    match &m.fate {
        Fate::Delivered { .. } => {}
        Fate::InFlight => s.push_str(t(lang, "   … in flight", "   … 传输中")),
        Fate::Dropped { reason, .. } => {
            let why = match (reason.as_str(), lang) {
                ("crash", Lang::En) => "a server is down".to_string(),
                ("crash", Lang::Zh) => "有服务器已宕机".to_string(),
                ("cut", Lang::En) => "the link is cut".to_string(),
                ("cut", Lang::Zh) => "链路已断开".to_string(),
                ("connection closed", Lang::En) => "the connection is closed".to_string(),
                ("connection closed", Lang::Zh) => "连接已关闭".to_string(),
                (r, _) => r.to_string(),
            };
            s.push_str(&match lang {
                Lang::En => format!("   ✗ lost ({why})"),
                Lang::Zh => format!("   ✗ 丢失（{why}）"),
            });
        }
    }
    s
}

/// The messages sent during trace records `first..last`, one line each; runs of identical
/// lines are folded (`×3`).
pub fn flow_lines(
    run: &LessonRun,
    first: usize,
    last: usize,
    lang: Lang,
    opts: FlowOptions,
) -> Vec<String> {
    let mut lines: Vec<(String, usize)> = Vec::new();
    let mut pings = 0usize;
    let mut total = 0usize;
    for m in run
        .messages()
        .iter()
        .filter(|m| m.sent_record >= first && m.sent_record < last)
    {
        if m.kind == "PING" && !opts.show_pings {
            pings += 1;
            continue;
        }
        total += 1;
        let line = flow_line(m, lang);
        let body = |l: &str| {
            l.split_once(" ms")
                .map(|(_, b)| b.to_string())
                .unwrap_or_default()
        };
        match lines.last_mut() {
            Some((prev, n)) if body(prev) == body(&line) => *n += 1,
            _ => lines.push((line, 1)),
        }
    }
    let shown = lines.len().min(opts.max_lines);
    let mut out: Vec<String> = lines[..shown]
        .iter()
        .map(|(l, n)| {
            if *n > 1 {
                format!("{l}  ×{n}")
            } else {
                l.clone()
            }
        })
        .collect();
    if lines.len() > shown {
        let rest: usize = lines[shown..].iter().map(|(_, n)| n).sum();
        out.push(format!(
            "   … {rest} {}",
            t(lang, "more messages", "条更多消息")
        ));
    }
    if pings > 0 {
        out.push(format!("   (+ {pings} PING)"));
    }
    if total == 0 && pings == 0 {
        out.push(format!("   {}", t(lang, "(no messages)", "（没有消息）")));
    }
    out
}

/// Each server's state, one line per server, with a header line.
pub fn server_table(run: &LessonRun, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    out.push(String::from(t(
        lang,
        "  server  state      phase      vote          round  last logged  committed  epoch acc/cur",
        "  服务器  状态       阶段       选票          轮次   最后记录     已提交     epoch 接受/当前",
    )));
    for (sid, node) in run.cluster().nodes() {
        let p = node.peer.as_ref();
        let line = match p {
            None => {
                let d = &node.durable;
                format!(
                    "  {sid:<6}  {:<9}  {:<9}  {:<12}  {:<5}  {:<11}  {:<9}  {}/{}",
                    state_name(None),
                    "-",
                    "-",
                    "-",
                    format!("{}", d.last_logged_zxid()),
                    "-",
                    d.accepted_epoch,
                    d.current_epoch
                )
            }
            Some(p) => {
                let v = p.vote();
                format!(
                    "  {sid:<6}  {:<9}  {:<9}  {:<12}  {:<5}  {:<11}  {:<9}  {}/{}",
                    p.state().name(),
                    p.phase().name(),
                    format!("({}, {})", v.vote_id, v.vote_zxid),
                    p.election().logicclock,
                    format!("{}", p.last_logged_zxid()),
                    format!("{}", p.last_processed_zxid()),
                    p.accepted_epoch(),
                    p.current_epoch()
                )
            }
        };
        out.push(line);
    }
    out
}

/// The znodes of the reference server (the leader, if any) with their data, `/zookeeper` left
/// out; and the clients.
pub fn data_lines(run: &LessonRun, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(sid) = run.reference_server() {
        if let Some(p) = run.cluster().peer(sid) {
            let tree = p.machine();
            let nodes: Vec<String> = tree
                .subtree("/")
                .into_iter()
                .filter(|path| path != "/" && !path.starts_with("/zookeeper"))
                .map(|path| {
                    let data = tree
                        .get_data(&super::observer(), &path)
                        .map(|(d, _)| {
                            String::from_utf8_lossy(d.as_deref().unwrap_or_default()).into_owned()
                        })
                        .unwrap_or_default();
                    if data.is_empty() {
                        path
                    } else {
                        format!("{path} = {data}")
                    }
                })
                .collect();
            if !nodes.is_empty() {
                out.push(match lang {
                    Lang::En => format!("  znodes on server {sid}: {}", nodes.join(", ")),
                    Lang::Zh => format!("  服务器 {sid} 上的 znode：{}", nodes.join(", ")),
                });
            }
        }
    }
    for (name, id) in run.client_names() {
        if let Some(c) = run.clients().get(id) {
            let alive = if c.alive {
                t(lang, "alive", "存活")
            } else {
                t(lang, "stopped", "已停止")
            };
            out.push(format!(
                "  {} {name} → {} {} ({} {:#x}, {alive})",
                t(lang, "client", "客户端"),
                t(lang, "server", "服务器"),
                c.server,
                t(lang, "session", "会话"),
                c.session_id
            ));
        }
    }
    out
}

/// The checkpoint verdict, one line per failure.
pub fn check_lines(report: &StepReport, lang: Lang) -> Vec<String> {
    if report.check.passed() {
        return alloc::vec![format!(
            "  ✓ {} ({} {})",
            t(lang, "checkpoint holds", "检查点通过"),
            report.check.checked,
            t(lang, "checks", "项检查")
        )];
    }
    report
        .check
        .failures
        .iter()
        .map(|f| format!("  ✗ {} {f}", t(lang, "checkpoint failed:", "检查点未通过:")))
        .collect()
}

/// The whole text of step `index` (which must have been played): its body, then its question
/// and the answer the run computed (for a replay nobody answers, e.g. `--auto`).
pub fn step_text(run: &LessonRun, index: usize, lang: Lang, opts: FlowOptions) -> String {
    let mut s = step_body(run, index, lang, opts);
    let question = run
        .lesson()
        .steps
        .get(index)
        .and_then(|s| s.question.as_ref());
    if let (Some(q), Some(_)) = (question, run.reports().get(index)) {
        s.push_str(&format!("  ? {}\n", q.text(lang)));
        for line in answer_lines(run, index, None, lang) {
            s.push_str(&line);
            s.push('\n');
        }
    }
    s
}

/// Predict first: the question of step `index`, asked against the state before the step runs
/// (its narration and checkpoint are shown only after the answer). Empty if it asks nothing.
pub fn question_lines(run: &LessonRun, index: usize, lang: Lang) -> Vec<String> {
    let Some(step) = run.lesson().steps.get(index) else {
        return Vec::new();
    };
    let Some(q) = &step.question else {
        return Vec::new();
    };
    let mut out = alloc::vec![format!(
        "── {} {}/{} ── {}",
        t(lang, "Step", "步骤"),
        index + 1,
        run.step_count(),
        t(lang, "predict first", "先预测")
    )];
    out.push(format!("  ? {}", q.text(lang)));
    if !q.choices.is_empty() {
        out.push(format!(
            "    {} {}",
            t(lang, "choices:", "选项："),
            q.choices.join(" / ")
        ));
    }
    out
}

/// The answer to step `index`'s question (played), and whether `given` matched it.
pub fn answer_lines(run: &LessonRun, index: usize, given: Option<&str>, lang: Lang) -> Vec<String> {
    let Some(answer) = run.reports().get(index).and_then(|r| r.answer.clone()) else {
        return Vec::new();
    };
    let mut out = alloc::vec![format!("    {} {answer}", t(lang, "Answer:", "答案："))];
    if let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) {
        let right = run.check_answer(index, given) == Some(true);
        out.push(match (lang, right) {
            (Lang::En, true) => format!("    you said {given}: ✓ right"),
            (Lang::En, false) => format!("    you said {given}: ✗ not this time"),
            (Lang::Zh, true) => format!("    你的答案 {given}：✓ 正确"),
            (Lang::Zh, false) => format!("    你的答案 {given}：✗ 不对"),
        });
    }
    out
}

/// Step `index` without its question: header, narration, messages, servers, data, checkpoint.
pub fn step_body(run: &LessonRun, index: usize, lang: Lang, opts: FlowOptions) -> String {
    let Some(report) = run.reports().get(index) else {
        return String::new();
    };
    let Some(step) = run.lesson().steps.get(index) else {
        return String::new();
    };
    let mut out = Vec::new();
    out.push(format!(
        "── {} {}/{} ── t = {} ms",
        t(lang, "Step", "步骤"),
        index + 1,
        run.step_count(),
        report.now_ms
    ));
    out.push(String::new());
    for para in step.narration(lang).lines() {
        out.push(para.to_string());
    }
    out.push(String::new());
    out.push(String::from(t(lang, "Messages:", "消息：")));
    out.extend(flow_lines(
        run,
        report.first_record,
        report.last_record,
        lang,
        opts,
    ));
    out.push(String::new());
    out.extend(server_table(run, lang));
    out.extend(data_lines(run, lang));
    out.push(String::new());
    out.extend(check_lines(report, lang));
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// The lesson's title and exercises, for the end of a replay.
pub fn exercises_text(run: &LessonRun, lang: Lang) -> String {
    let mut out = Vec::new();
    for (i, ex) in run.lesson().exercises.iter().enumerate() {
        out.push(format!(
            "  {} {} [{}]: {}",
            t(lang, "Exercise", "练习"),
            i + 1,
            ex.id,
            ex.title.get(lang)
        ));
    }
    out.join("\n")
}
