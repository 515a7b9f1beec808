//! The lesson slot: the lesson picker, the en / zh switch, and for the lesson shown its
//! narration with Next / Back and the step counter, the step's checkpoint (✓, or what was
//! expected and what the run shows), its question with an answer box, the message flow of the
//! step, and the exercises with their Check button and hint. Everything comes from
//! `zablab_core::lesson` through [`crate::lesson::LessonMode`].
//!
//! Predict first: when the next step asks a question, it is shown (`#predict`, with
//! `#predict-answer` / `#predict-check` or choice buttons) against the state before that step;
//! answering plays the step, whose narration, checkpoint and verdict then appear. Next still
//! plays a step without a prediction, and a played step's question can be answered afterwards.
//!
//! Test hooks: `#lesson-slot[data-lesson][data-lang]`, `#lesson-counter[data-step][data-steps]`,
//! `#checkpoint[data-passed]`, `#answer-result[data-correct]`, `#exercise-result[data-passed]`,
//! `#predict[data-step]`.

use yew::prelude::*;

#[cfg(feature = "lessons")]
use zablab_core::lesson::Question;
use zablab_core::lesson::{Highlight, Lang};

use crate::app::{App, LessonMsg, Msg};
use crate::lesson::LessonMode;

/// A label in the lesson's language.
pub fn tr(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// What the lesson's step shown points at (the diagram marks these servers and messages).
pub fn highlight(app: &App) -> Option<&Highlight> {
    app.lesson.as_ref().and_then(|m| m.highlight())
}

/// The lesson's own configuration for the toolbar (its seed and cluster, not the lab's).
pub fn config(app: &App) -> Option<Html> {
    #[cfg(feature = "lessons")]
    {
        let m = app.lesson.as_ref()?;
        let l = m.run.lesson();
        let c = &l.cluster;
        let mut spec = format!(
            "{} {} · seed {} · {} {}",
            tr(app.lang, "lesson", "课程"),
            l.name.split('-').next().unwrap_or_default(),
            l.seed,
            c.servers,
            tr(app.lang, "servers", "台服务器"),
        );
        if c.observers > 0 {
            spec.push_str(&format!(
                " + {} {}",
                c.observers,
                tr(app.lang, "observers", "个观察者")
            ));
        }
        if let Some(n) = c.commit_log_count {
            spec.push_str(&format!(" · commitLogCount {n}"));
        }
        if let Some(n) = c.snap_count {
            spec.push_str(&format!(" · snapCount {n}"));
        }
        if !c.disks.is_empty() {
            let disks: Vec<String> = c
                .disks
                .iter()
                .map(|(s, d)| format!("S{s} {}:{}", d.epoch, d.last))
                .collect();
            spec.push_str(&format!(
                " · {} {}",
                tr(app.lang, "disks", "磁盘"),
                disks.join(", ")
            ));
        }
        Some(html! {
            <span id="lesson-config" class="lesson-config" data-seed={l.seed.to_string()}
                  data-servers={c.servers.to_string()} data-observers={c.observers.to_string()}>{spec}</span>
        })
    }
    #[cfg(not(feature = "lessons"))]
    {
        let _ = app;
        None
    }
}

/// Where in `text` the step's highlights are named: (start, end) byte ranges, in order, not
/// overlapping. Servers as `server 3`, `Server 3`, `服务器 3` or `S3`; packet names and zxids
/// as whole words (so `1:4` does not mark `1:42`).
#[cfg(feature = "lessons")]
fn marks(text: &str, h: &Highlight) -> Vec<(usize, usize)> {
    let mut words: Vec<String> = Vec::new();
    for s in &h.servers {
        for p in ["server ", "Server ", "服务器 ", "S"] {
            words.push(format!("{p}{s}"));
        }
    }
    words.extend(h.messages.iter().cloned());
    words.extend(h.zxids.iter().cloned());
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == ':' || c == '_';
    debug_assert!(!words.iter().any(|w| w.is_empty()));
    let mut found: Vec<(usize, usize)> = Vec::new();
    for w in &words {
        for (at, _) in text.match_indices(w.as_str()) {
            let end = at + w.len();
            let before = text[..at].chars().next_back().is_some_and(word_char);
            // `1:3:` ends a sentence's zxid with a colon; `1:3:4` would be another number.
            let mut rest = text[end..].chars();
            let after = match rest.next() {
                Some(':') => rest.next().is_some_and(|c| c.is_ascii_digit()),
                Some(c) => word_char(c),
                None => false,
            };
            if !before && !after {
                found.push((at, end));
            }
        }
    }
    found.sort_by_key(|&(a, b)| (a, usize::MAX - b));
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (a, b) in found {
        if out.last().is_none_or(|&(_, e)| a >= e) {
            out.push((a, b));
        }
    }
    out
}

#[cfg(feature = "lessons")]
fn paragraphs(text: &str, h: Option<&Highlight>) -> Html {
    text.split('\n')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let Some(h) = h else {
                return html! { <p>{p}</p> };
            };
            let mut parts = Vec::new();
            let mut at = 0;
            for (a, b) in marks(p, h) {
                parts.push(html! { {&p[at..a]} });
                parts.push(html! { <mark class="hl">{&p[a..b]}</mark> });
                at = b;
            }
            parts.push(html! { {&p[at..]} });
            html! { <p>{for parts}</p> }
        })
        .collect()
}

fn lang_switch(app: &App, ctx: &Context<App>) -> Html {
    let button = |l: Lang, id: &'static str, label: &'static str| {
        let onclick = ctx
            .link()
            .callback(move |_| Msg::Lesson(LessonMsg::Lang(l)));
        html! {
            <button {id} class={classes!((app.lang == l).then_some("on"))}
                    aria-pressed={(app.lang == l).to_string()} {onclick}>{label}</button>
        }
    };
    html! {
        <span class="lang-switch" role="group" aria-label="language">
            {button(Lang::En, "lang-en", "EN")}{button(Lang::Zh, "lang-zh", "中文")}
        </span>
    }
}

fn picker(app: &App, ctx: &Context<App>) -> Html {
    let current = app.lesson.as_ref().map(|m| m.name().to_string());
    let onchange = ctx.link().callback(|e: Event| {
        Msg::Lesson(LessonMsg::Pick(
            e.target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value(),
        ))
    });
    html! {
        <select id="lesson-picker" {onchange} aria-label={tr(app.lang, "lesson", "课程")}>
            <option value="" selected={current.is_none()}>{tr(app.lang, "— free lab (no lesson) —", "— 自由实验（无课程）—")}</option>
            { for crate::catalog::LESSONS.iter().map(|e| {
                let name = e.0;
                let n = name.split('-').next().unwrap_or_default();
                html! { <option value={name} selected={current.as_deref() == Some(name)}>{format!("{n}. {}", crate::catalog::title(e, app.lang))}</option> }
            }) }
        </select>
    }
}

#[cfg(feature = "lessons")]
fn checkpoint(m: &LessonMode, lang: Lang) -> Html {
    let Some(r) = m.report() else {
        return html! {};
    };
    if r.check.passed() {
        return html! {
            <div id="checkpoint" class="check ok" data-passed="true">
                {format!("✓ {} ({} {})", tr(lang, "checkpoint holds", "检查点通过"), r.check.checked, tr(lang, "checks", "项检查"))}
            </div>
        };
    }
    html! {
        <div id="checkpoint" class="check bad" data-passed="false">
            <strong>{format!("✗ {}", tr(lang, "checkpoint failed", "检查点未通过"))}</strong>
            <ul>
                { for r.check.failures.iter().map(|f| html! {
                    <li>{&f.what}{": "}<br/>
                        {tr(lang, "expected ", "期望 ")}<code>{&f.expected}</code>{tr(lang, ", got ", "，实际 ")}<code>{&f.actual}</code></li>
                }) }
            </ul>
        </div>
    }
}

/// How a question is shown: after its step (answerable, or only its verdict) or before it.
#[cfg(feature = "lessons")]
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// Its step was played: answer it now (or see the verdict).
    Played,
    /// Its step was played and the next step asks a prediction: only the verdict, if any.
    VerdictOnly,
    /// Its step has not run yet: predict first.
    Predict,
}

#[cfg(feature = "lessons")]
fn question(
    app: &App,
    ctx: &Context<App>,
    m: &LessonMode,
    step: usize,
    q: &Question,
    ask: Ask,
) -> Html {
    let lang = app.lang;
    let link = ctx.link();
    let text = q.text(lang);
    let given = m.answers.get(step).cloned().flatten();
    if ask == Ask::VerdictOnly && given.is_none() {
        return html! {};
    }
    // A question is asked before its step: once the step ran, the picture shows the answer,
    // so an unanswered question is answered, not asked.
    if ask == Ask::Played && given.is_none() {
        let answer = m
            .run
            .reports()
            .get(step)
            .and_then(|r| r.answer.clone())
            .unwrap_or_default();
        return html! {
            <div id="question" class="question revealed" data-step={step.to_string()}>
                <p class="q">{format!("? {text}")}</p>
                <p id="answer-revealed" class="answer">{format!("{} {answer}", tr(lang, "Answer:", "答案："))}</p>
            </div>
        };
    }
    let (input_id, check_id) = if ask == Ask::Predict {
        ("predict-answer", "predict-check")
    } else {
        ("answer", "answer-check")
    };
    let input = if ask == Ask::VerdictOnly {
        html! {}
    } else if q.choices.is_empty() {
        let oninput = link.callback(|e: InputEvent| {
            Msg::Lesson(LessonMsg::AnswerDraft(
                e.target_unchecked_into::<web_sys::HtmlInputElement>()
                    .value(),
            ))
        });
        let onkeydown = link.batch_callback(move |e: KeyboardEvent| {
            (e.key() == "Enter").then_some(Msg::Lesson(LessonMsg::Answer(step, None)))
        });
        html! {
            <div class="answer-row">
                <input id={input_id} value={app.answer_draft.clone()} {oninput} {onkeydown} size="8"
                       placeholder={tr(lang, "your answer", "你的答案")} />
                <button id={check_id} onclick={link.callback(move |_| Msg::Lesson(LessonMsg::Answer(step, None)))}>
                    {tr(lang, "Check", "检查")}</button>
            </div>
        }
    } else {
        html! {
            <div class="answer-row">
                { for q.choices.iter().map(|c| {
                    let choice = c.clone();
                    let picked = given.as_ref().is_some_and(|(g, _)| g == c);
                    html! { <button class={classes!("choice", picked.then_some("on"))} data-choice={c.clone()}
                                    onclick={link.callback(move |_| Msg::Lesson(LessonMsg::Answer(step, Some(choice.clone()))))}>{c}</button> }
                }) }
            </div>
        }
    };
    let verdict = given.map(|(g, ok)| {
        let text = if ok {
            format!("✓ {} ({g})", tr(lang, "right", "正确"))
        } else {
            format!("✗ {} ({g})", tr(lang, "not quite — look at the servers again", "不对——再看看各服务器的状态"))
        };
        html! { <div id="answer-result" class={classes!("check", if ok { "ok" } else { "bad" })} data-correct={ok.to_string()}>{text}</div> }
    });
    if ask == Ask::Predict {
        return html! {
            <div id="predict" class="question" data-step={step.to_string()}>
                <p class="q">{format!("{} {}/{} — {}", tr(lang, "Predict first: step", "先预测：步骤"), step + 1, m.step_count(), tr(lang, "answer to play it", "回答后播放这一步"))}</p>
                <p class="q">{format!("? {text}")}</p>
                {input}
            </div>
        };
    }
    html! {
        <div id="question" class="question">
            <p class="q">{format!("? {text}")}</p>
            {input}
            {verdict}
        </div>
    }
}

#[cfg(feature = "lessons")]
fn flow(ctx: &Context<App>, m: &LessonMode, lang: Lang) -> Html {
    let title = if m.exercise.is_some() {
        tr(lang, "Latest messages", "最近的消息")
    } else {
        tr(
            lang,
            "Messages in this step (click one to see that moment)",
            "本步骤中的消息（点击查看那一刻）",
        )
    };
    // The entry of the moment shown: the last message sent up to the picture's event.
    let entries = m.flow(lang);
    let cursor = m.flow_cursor();
    let current = cursor.and_then(|c| {
        entries
            .iter()
            .filter_map(|e| e.record)
            .filter(|r| *r <= c)
            .max()
    });
    html! {
        <details id="flow" class="flow" open=true>
            <summary>{title}</summary>
            { for entries.into_iter().map(|e| match e.record {
                Some(r) if m.exercise.is_none() => {
                    let onclick = ctx.link().callback(move |_| Msg::Lesson(LessonMsg::ShowRecord(r)));
                    let here = current == Some(r);
                    html! { <button class={classes!("fl", here.then_some("current"))} data-record={r.to_string()} {onclick}>{e.text()}</button> }
                }
                _ => html! { <div class="fl">{e.text()}</div> },
            }) }
        </details>
    }
}

/// The step's stepper while it animates: progress, pause, speed and skip.
#[cfg(feature = "lessons")]
fn playback_bar(app: &App, ctx: &Context<App>, m: &LessonMode) -> Html {
    let lang = app.lang;
    let link = ctx.link();
    let speed = link.callback(|e: Event| {
        Msg::Lesson(LessonMsg::PlaySpeed(
            e.target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value()
                .parse()
                .unwrap_or(crate::lesson::SPEEDS[1].0),
        ))
    });
    let (i, n, paused) = match &m.play {
        Some(p) => (p.position().0 + 1, p.position().1, p.paused),
        None => (0, 0, false),
    };
    html! {
        <div class="playback" id="playback" data-playing={m.animating().to_string()}>
            <label>{tr(lang, "speed ", "速度 ")}
                <select id="lesson-speed" onchange={speed} aria-label={tr(lang, "animation speed", "动画速度")}>
                    { for crate::lesson::SPEEDS.iter().map(|(v, en, zh)| html! {
                        <option value={v.to_string()} selected={m.speed == *v}>{format!("{} ({v}/s)", tr(lang, en, zh))}</option>
                    }) }
                </select>
            </label>
            if m.animating() {
                <span class="progress">{format!("{} {i} / {n}", tr(lang, "event", "事件"))}</span>
                <button id="lesson-pause" onclick={link.callback(|_| Msg::Lesson(LessonMsg::PausePlayback))}>
                    { if paused { tr(lang, "▶ Resume", "▶ 继续") } else { tr(lang, "❚❚ Pause", "❚❚ 暂停") } }</button>
                <button id="lesson-skip" onclick={link.callback(|_| Msg::Lesson(LessonMsg::Skip))}>{tr(lang, "Skip to end ▶▶", "跳到结尾 ▶▶")}</button>
            }
        </div>
    }
}

#[cfg(feature = "lessons")]
fn exercises(app: &App, ctx: &Context<App>, m: &LessonMode) -> Html {
    let lang = app.lang;
    let list = &m.run.lesson().exercises;
    if list.is_empty() {
        return html! { <p class="dim">{tr(lang, "This lesson has no exercise.", "本课没有练习。")}</p> };
    }
    html! {
        <div id="exercises" class="exercises">
            <h3>{tr(lang, "Exercises", "练习")}</h3>
            <ol>
                { for list.iter().enumerate().map(|(i, ex)| html! {
                    <li data-exercise={ex.id.clone()}>
                        {ex.title.get(lang)}{" "}
                        <button class="try" onclick={ctx.link().callback(move |_| Msg::Lesson(LessonMsg::Exercise(i)))}>
                            {tr(lang, "Try it", "开始练习")}</button>
                    </li>
                }) }
            </ol>
        </div>
    }
}

#[cfg(feature = "lessons")]
fn exercise_panel(app: &App, ctx: &Context<App>, m: &LessonMode, i: usize) -> Html {
    let lang = app.lang;
    let link = ctx.link();
    let Some(ex) = m.run.lesson().exercises.get(i) else {
        return html! {};
    };
    let result = m.result.as_ref().map(|r| {
        if r.passed {
            html! {
                <div id="exercise-result" class="check ok" data-passed="true">
                    {format!("✓ {} ({})", tr(lang, "goal reached", "目标达成"), r.observed)}
                </div>
            }
        } else {
            html! {
                <div id="exercise-result" class="check bad" data-passed="false">
                    <strong>{format!("✗ {} ", tr(lang, "not yet:", "还没有："))}</strong>{&r.observed}
                    { for r.hint.as_ref().map(|h| html! { <p id="exercise-hint" class="hint"><strong>{tr(lang, "Hint: ", "提示：")}</strong>{h.get(lang)}</p> }) }
                </div>
            }
        }
    });
    html! {
        <div id="exercise" class="exercise" data-exercise={ex.id.clone()}>
            <h3>{format!("{} {}", tr(lang, "Exercise", "练习"), i + 1)}</h3>
            <p class="goal">{ex.title.get(lang)}</p>
            <p class="dim">{tr(lang,
                "Free play: click a server to start, kill or restart it, a link to cut or heal it; send writes with the client form. Play runs time.",
                "自由操作：点击服务器可启动、停止或重启它，点击链路可断开或恢复；用客户端表单发送写请求。点“播放”让时间前进。")}</p>
            <div class="buttons">
                <button id="exercise-run" onclick={link.callback(|_| Msg::Lesson(LessonMsg::RunFor(1000)))}>{tr(lang, "Run 1 s", "运行 1 秒")}</button>
                <button id="exercise-check" class="primary" onclick={link.callback(|_| Msg::Lesson(LessonMsg::Check))}>{tr(lang, "Check", "检查")}</button>
                <button id="exercise-restart" onclick={link.callback(move |_| Msg::Lesson(LessonMsg::Exercise(i)))}>{tr(lang, "Start over", "重新开始")}</button>
                <button id="exercise-leave" onclick={link.callback(|_| Msg::Lesson(LessonMsg::EndExercise))}>{tr(lang, "Back to the lesson", "返回课程")}</button>
            </div>
            {result}
        </div>
    }
}

#[cfg(feature = "lessons")]
fn lesson_body(app: &App, ctx: &Context<App>, m: &LessonMode) -> Html {
    let lang = app.lang;
    let link = ctx.link();
    let lesson = m.run.lesson();
    let title = html! { <h2 id="lesson-title">{lesson.title.get(lang)}</h2> };
    if let Some(i) = m.exercise {
        return html! { <>{title}{exercise_panel(app, ctx, m, i)}{flow(ctx, m, lang)}</> };
    }
    let (n, total) = (m.steps_played(), m.step_count());
    let narration = match n.checked_sub(1).and_then(|i| lesson.steps.get(i)) {
        Some(step) => paragraphs(step.narration(lang), m.highlight()),
        None => html! { <p>{tr(lang,
        "The cluster is set up as the lesson describes. Press Next to play the first step; Back rewinds.",
        "集群已按课程设置好。点击“下一步”播放第一步；“上一步”可回退。")}</p> },
    };
    // Predict first: the next step's question, unanswered, is asked before the step runs.
    let upcoming = lesson
        .steps
        .get(n)
        .and_then(|s| s.question.as_ref())
        .filter(|_| m.answers.get(n).is_some_and(|a| a.is_none()));
    let played = if upcoming.is_some() {
        Ask::VerdictOnly
    } else {
        Ask::Played
    };
    let q = n
        .checked_sub(1)
        .and_then(|i| Some((i, lesson.steps.get(i)?.question.as_ref()?)))
        .map(|(i, q)| question(app, ctx, m, i, q, played));
    let predict = upcoming.map(|q| question(app, ctx, m, n, q, Ask::Predict));
    html! {
        <>
            {title}
            <div class="stepper">
                <button id="lesson-back" disabled={n == 0} onclick={link.callback(|_| Msg::Lesson(LessonMsg::Back))}>{tr(lang, "◀ Back", "◀ 上一步")}</button>
                <span id="lesson-counter" data-step={n.to_string()} data-steps={total.to_string()}
                      data-playing={m.animating().to_string()}
                      data-event={m.play.as_ref().map_or(String::new(), |p| p.event().to_string())}>
                    {format!("{} {n} / {total}", tr(lang, "Step", "步骤"))}</span>
                <button id="lesson-next" class="primary" disabled={n >= total} onclick={link.callback(|_| Msg::Lesson(LessonMsg::Next))}>{tr(lang, "Next ▶", "下一步 ▶")}</button>
            </div>
            {playback_bar(app, ctx, m)}
            <div id="narration" class="narration" lang={crate::browser::lang_code(lang)}>{narration}</div>
            // The checkpoint and the verdict wait for the end of the step's animation.
            if !m.animating() {
                {checkpoint(m, lang)}
                {q}
                {predict}
            }
            if n > 0 { {flow(ctx, m, lang)} }
            if n >= total && !m.animating() {
                <p class="done">{tr(lang, "End of the lesson.", "课程结束。")}</p>
                {exercises(app, ctx, m)}
            }
        </>
    }
}

/// Without the lessons feature no lesson is ever shown.
#[cfg(not(feature = "lessons"))]
fn lesson_body(_app: &App, _ctx: &Context<App>, m: &LessonMode) -> Html {
    m.never()
}

pub fn slot(app: &App, ctx: &Context<App>) -> Html {
    let lang = app.lang;
    let body = match &app.lesson {
        Some(m) => lesson_body(app, ctx, m),
        None => html! { <p class="dim">{tr(lang,
        "Pick a lesson to replay a classic walkthrough of FastLeaderElection and ZAB recovery step by step, or play freely with the lab.",
        "选择一门课程，逐步重放 FastLeaderElection 与 ZAB 恢复的经典讲解；或者在实验室中自由操作。")}</p> },
    };
    html! {
        <aside id="lesson-slot" class="lesson-slot panel"
               data-lesson={app.lesson.as_ref().map(|m| m.name().to_string()).unwrap_or_default()}
               data-lang={crate::browser::lang_code(lang)}>
            <div class="lesson-head">
                <strong>{tr(lang, "Lessons", "课程")}</strong>
                {lang_switch(app, ctx)}
            </div>
            {picker(app, ctx)}
            {body}
        </aside>
    }
}

/// The narration of the step shown, on one line (present mode's bar).
pub fn narration_text(app: &App) -> Option<String> {
    #[cfg(feature = "lessons")]
    {
        let m = app.lesson.as_ref()?;
        let i = m.steps_played().checked_sub(1)?;
        let lesson = m.run.lesson();
        lesson
            .steps
            .get(i)
            .map(|s| s.narration(app.lang).replace('\n', " "))
    }
    #[cfg(not(feature = "lessons"))]
    {
        let _ = app;
        None
    }
}
