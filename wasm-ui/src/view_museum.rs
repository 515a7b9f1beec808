//! The bug museum's panel: the exhibit picker (on the lab page it opens the museum module);
//! then the bug / fix switch, Replay and the verdict (first, so they are on screen at
//! 1280x720): the invariant the monitor caught with the servers and zxids it names, or that the
//! fixed run reached its end safely; then the bug's story and what to watch, in English or
//! Chinese.
//!
//! Test hooks: `#museum[data-exhibit][data-fixed][data-outcome]`, `#museum-picker`,
//! `#museum-bug`, `#museum-fix`, `#museum-replay`, `#museum-verdict[data-invariant]`.

use yew::prelude::*;

#[cfg(feature = "museum")]
use crate::app::LessonMsg;
use crate::app::{App, Msg, MuseumMsg};
#[cfg(feature = "museum")]
use crate::museum::{pick, Outcome};
use crate::museum::{MuseumRun, EXHIBITS};
use crate::view_lesson::tr;
#[cfg(feature = "museum")]
use zablab_core::lesson::Lang;

fn picker(app: &App, ctx: &Context<App>, current: Option<usize>) -> Html {
    let onchange = ctx.link().callback(|e: Event| {
        Msg::Museum(MuseumMsg::Pick(
            e.target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value(),
        ))
    });
    html! {
        <select id="museum-picker" {onchange} aria-label={tr(app.lang, "bug museum", "Bug 博物馆")}>
            <option value="" selected={current.is_none()}>{tr(app.lang, "— bug museum: pick a historical bug —", "— Bug 博物馆：选择一个历史 bug —")}</option>
            { for EXHIBITS.iter().enumerate().map(|(i, e)| html! {
                <option value={e.name()} selected={current == Some(i)}>{e.title(app.lang)}</option>
            }) }
        </select>
    }
}

/// The picker alone, for the lesson slot of the lab page.
pub fn entry(app: &App, ctx: &Context<App>) -> Html {
    html! { <div class="museum-entry">{picker(app, ctx, None)}</div> }
}

#[cfg(feature = "museum")]
fn lang_buttons(app: &App, ctx: &Context<App>) -> Html {
    let b = |l: Lang, label: &'static str| {
        let onclick = ctx
            .link()
            .callback(move |_| Msg::Lesson(LessonMsg::Lang(l)));
        html! { <button class={classes!((app.lang == l).then_some("on"))} aria-pressed={(app.lang == l).to_string()} {onclick}>{label}</button> }
    };
    html! { <span class="lang-switch">{b(Lang::En, "EN")}{b(Lang::Zh, "中文")}</span> }
}

/// The museum slot (in place of the lesson slot while an exhibit is shown). Only the museum
/// module shows exhibits: the lab page carries their titles, not their stories.
#[cfg(not(feature = "museum"))]
pub fn slot(app: &App, ctx: &Context<App>, _run: MuseumRun) -> Html {
    crate::view_lesson::slot(app, ctx)
}

/// The museum slot (in place of the lesson slot while an exhibit is shown).
#[cfg(feature = "museum")]
pub fn slot(app: &App, ctx: &Context<App>, run: MuseumRun) -> Html {
    let lang = app.lang;
    let e = &EXHIBITS[run.exhibit];
    let c = app.cluster();
    let outcome = Outcome::of(run, c);
    let link = ctx.link();
    let verdict = match (outcome, c.violation()) {
        (Outcome::Violated, Some(v)) => html! {
            <div id="museum-verdict" class="check bad" data-invariant={v.invariant.clone()}>
                <strong>{format!("{} {}", tr(lang, "The invariant monitor stopped the run:", "不变式监视器暂停了运行："), v.invariant)}</strong>
                <p>{format!("{} {} ms · {} {} · zxid {}",
                    tr(lang, "at", "时间"), v.time.0,
                    tr(lang, "servers", "服务器"),
                    v.nodes.iter().map(|n| format!("S{n}")).collect::<Vec<_>>().join(", "),
                    v.zxids.iter().map(|z| z.to_string()).collect::<Vec<_>>().join(", "))}</p>
                <p class="detail">{&v.detail}</p>
                <p>{tr(lang, "Open the logs view to see the zxid on each server; switch the fix on and replay.", "打开日志视图查看每台服务器上的该 zxid；打开修复后重放。")}</p>
            </div>
        },
        (Outcome::Safe, _) => html! {
            <div id="museum-verdict" class="check ok" data-invariant="">
                {format!("✓ {} {} ms {}", tr(lang, "Reached the end of the scenario at", "场景运行到结束："), e.end_ms, tr(lang, "with every invariant intact.", "所有不变式均成立。"))}
            </div>
        },
        _ => html! {
            <div id="museum-verdict" class="check" data-invariant="">
                {format!("{} {:.0} / {} ms", tr(lang, "Running…", "运行中…"), app.view_t, e.end_ms)}
            </div>
        },
    };
    let set = |fixed: bool| link.callback(move |_| Msg::Museum(MuseumMsg::SetFixed(fixed)));
    html! {
        <aside id="museum" class="lesson-slot panel museum" data-exhibit={e.name()} data-fixed={run.fixed.to_string()}
               data-outcome={outcome.name()} data-lang={crate::browser::lang_code(lang)}>
            <div class="lesson-head">
                <strong>{tr(lang, "Bug museum", "Bug 博物馆")}</strong>
                {lang_buttons(app, ctx)}
            </div>
            {picker(app, ctx, Some(run.exhibit))}
            <h2>{e.title(lang)}</h2>
            <div class="buttons" role="group">
                <button id="museum-bug" class={classes!("choice", (!run.fixed).then_some("on"))} onclick={set(false)}>{tr(lang, "✗ Bug on", "✗ 打开 bug")}</button>
                <button id="museum-fix" class={classes!("choice", run.fixed.then_some("on"))} onclick={set(true)}>{tr(lang, "✔ Fix on", "✔ 打开修复")}</button>
                <button id="museum-replay" class="primary" onclick={link.callback(|_| Msg::Museum(MuseumMsg::Replay))}>{tr(lang, "↻ Replay", "↻ 重放")}</button>
            </div>
            {verdict}
            <div class="narration" lang={crate::browser::lang_code(lang)}>
                <p>{pick(lang, e.story)}</p>
                <p><strong>{tr(lang, "Watch: ", "观察：")}</strong>{pick(lang, e.watch)}</p>
                <p><strong>{tr(lang, "Invariant: ", "不变式：")}</strong><code>{e.invariant}</code></p>
            </div>
        </aside>
    }
}
