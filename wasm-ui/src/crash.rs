//! A panic inside the wasm must never leave a blank page. The panic hook writes an error panel
//! into the page with the link to the run up to the last frame drawn, so a student can reload
//! at that moment and a teacher can attach it to a bug report. The page keeps that link fresh
//! after every render (and in `window.zablabShareLink`, which `index.html`'s error handler uses
//! for an abort that is not a panic, such as running out of memory).

use std::cell::RefCell;

use crate::app::App;

thread_local! {
    /// (branch, branches, actions) the cached run was encoded for, and that encoding.
    static RUN: RefCell<((usize, usize, usize), String)> = const { RefCell::new(((usize::MAX, 0, 0), String::new())) };
    static LINK: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs the hook (before the first render).
pub fn install() {
    yew::set_custom_panic_hook(Box::new(|info| {
        let what = info.to_string();
        web_sys::console::error_1(&what.clone().into());
        // Before the first render there is no run drawn yet: the page's own address (without
        // the test hook that panics on purpose).
        let link = LINK.with(|l| l.borrow().clone());
        let link = if link.is_empty() {
            web_sys::window()
                .and_then(|w| w.location().href().ok())
                .unwrap_or_default()
                .replace("panic=test", "")
        } else {
            link
        };
        show(&what, &link);
    }));
}

/// Keeps the crash link at the moment drawn. The run is re-encoded only when the branches or
/// their actions changed.
pub fn remember(app: &App) {
    let lab = &app.lab;
    let key = (
        lab.current,
        lab.branches.len(),
        lab.branches.iter().map(|b| b.scenario.actions.len()).sum(),
    );
    let run = RUN.with(|r| {
        let mut r = r.borrow_mut();
        if r.0 != key {
            let mut shared = crate::share::shared(lab, 0.0);
            shared.at = None;
            *r = (key, crate::share::encode_run(&shared));
        }
        r.1.clone()
    });
    let link = format!(
        "{}#run={run}&t={}&steps={}",
        crate::browser::base_url(),
        lab.now_ms(),
        lab.steps()
    );
    if let Some(w) = web_sys::window() {
        let _ = js_sys::Reflect::set(&w, &"zablabShareLink".into(), &link.as_str().into());
    }
    LINK.with(|l| *l.borrow_mut() = link);
}

/// The error panel, at the top of the page (text only: nothing from the panic is parsed as
/// HTML).
fn show(what: &str, link: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if doc.get_element_by_id("crash").is_some() {
        return;
    }
    let Some(body) = doc.body() else { return };
    let el = |tag: &str, text: &str| {
        let e = doc.create_element(tag).ok()?;
        e.set_text_content(Some(text));
        Some(e)
    };
    let Some(panel) = el("div", "") else { return };
    panel.set_id("crash");
    panel.set_class_name("crash");
    let _ = panel.set_attribute("role", "alert");
    let parts = [
        el("h2", "ZabLab stopped: an internal error"),
        el("p", what),
        el(
            "p",
            "The link below opens the run at the last moment drawn: reload from there, or send it with a bug report.",
        ),
    ];
    for p in parts.into_iter().flatten() {
        let _ = panel.append_child(&p);
    }
    if let Ok(input) = doc.create_element("input") {
        input.set_id("crash-link");
        let _ = input.set_attribute("readonly", "");
        let _ = input.set_attribute("value", link);
        let _ = panel.append_child(&input);
    }
    if let Some(a) = el("a", "Open this moment") {
        let _ = a.set_attribute("href", link);
        let _ = panel.append_child(&a);
    }
    let _ = body.insert_before(&panel, body.first_child().as_ref());
}
