//! The stage's size and present mode. The diagram is drawn in CSS pixels at the size of its
//! box (`#diagram`), measured whenever that box changes size (a `ResizeObserver`, which the
//! browser calls after its own layout: reading the size after every render instead forced a
//! synchronous layout in each animation frame, 9 % of a frame's time with 9 servers) and on
//! window resize, so it fills the space at any resolution and its type is the size the CSS says. Present mode (`p`, the Present button,
//! `?present=1`) shows only the diagram and a status bar with the narration; the keyboard
//! drives it: → step, ← back, space play/pause, p or Esc leave.

use std::cell::RefCell;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::app::{App, Msg, Selection};
use crate::share::Picked;

/// The diagram's box, if it is on the page.
fn measure() -> Option<(f64, f64)> {
    let el = web_sys::window()?
        .document()?
        .get_element_by_id("diagram")?;
    let (w, h) = (el.client_width() as f64, el.client_height() as f64);
    (w > 0.0 && h > 0.0).then_some((w, h))
}

/// A guess before the first measurement: most of the window.
pub fn first_stage_px() -> (f64, f64) {
    let size = web_sys::window().map(|w| {
        let px = |v: Result<wasm_bindgen::JsValue, _>| v.ok().and_then(|v| v.as_f64());
        (
            px(w.inner_width()).unwrap_or(1280.0),
            px(w.inner_height()).unwrap_or(720.0),
        )
    });
    let (w, h) = size.unwrap_or((1280.0, 720.0));
    ((w * 0.6).max(300.0), (h * 0.6).max(240.0))
}

/// Re-measures the diagram when the window changes size.
pub fn on_resize(ctx: &Context<App>) {
    let link = ctx.link().clone();
    let resize = Closure::<dyn Fn()>::new(move || {
        if let Some((w, h)) = measure() {
            link.send_message(Msg::Resize(w, h));
        }
    });
    if let Some(w) = web_sys::window() {
        let _ = w.add_event_listener_with_callback("resize", resize.as_ref().unchecked_ref());
    }
    // The page's one App lives as long as the page.
    resize.forget();
}

/// The observer of the diagram's box and the element it watches (the page re-creates
/// `#diagram` when the stage's view changes).
struct Watch {
    observer: web_sys::ResizeObserver,
    watched: Option<web_sys::Element>,
}

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// Watches `#diagram` if it is a new element: the observer reports its first size at once and
/// every change after (toolbar wrapped, present mode, large type, logs beside it).
fn watch_diagram(ctx: &Context<App>) {
    let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("diagram"))
    else {
        return;
    };
    WATCH.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let link = ctx.link().clone();
            // The new size is drawn in a task of its own: a render inside the observer's
            // callback that changed an observed box again would be a "ResizeObserver loop".
            let changed = Closure::<dyn Fn()>::new(move || {
                let link = link.clone();
                gloo_timers::callback::Timeout::new(0, move || {
                    if let Some((w, h)) = measure() {
                        link.send_message(Msg::Resize(w, h));
                    }
                })
                .forget();
            });
            let Ok(observer) = web_sys::ResizeObserver::new(changed.as_ref().unchecked_ref())
            else {
                return;
            };
            // The page's one App lives as long as the page.
            changed.forget();
            *cell = Some(Watch {
                observer,
                watched: None,
            });
        }
        if let Some(w) = cell.as_mut() {
            if w.watched.as_ref() != Some(&el) {
                w.observer.disconnect();
                w.observer.observe(&el);
                w.watched = Some(el);
            }
        }
    });
}

/// After every render: the diagram may be a new element to watch, and the crash panel's link
/// follows the moment drawn. (`Msg::Resize` ignores a size that did not change.)
pub fn after_render(app: &App, ctx: &Context<App>) {
    watch_diagram(ctx);
    crate::crash::remember(app);
}

/// The message a link's `sel=` becomes.
pub fn pick(p: Picked) -> Msg {
    match p {
        Picked::Server(s) => Msg::Select(Selection::Server(s)),
        Picked::Link(a, b) => Msg::Select(Selection::Link(a, b)),
        Picked::Message(m) => Msg::SelectMessage(m),
    }
}

/// Present mode's bar: where the run is, the narration (in a lesson), the keys.
pub fn bar(app: &App, ctx: &Context<App>) -> Html {
    let c = app.cluster();
    let leader = c
        .leader()
        .map(|l| format!("leader S{l}"))
        .unwrap_or_else(|| "no leader".into());
    let place = match &app.lesson {
        Some(m) => format!("step {}/{}", m.steps_played(), m.step_count()),
        None => format!("event {}", app.lab.steps()),
    };
    let status = format!(
        "t = {:.0} ms · {place} · {leader} · {}",
        app.view_t,
        if app.playing { "playing" } else { "paused" }
    );
    let narration = crate::view_lesson::narration_text(app);
    html! {
        <div id="present-bar" class="present-bar" role="status">
            <span class="status">{status}</span>
            if let Some(n) = narration { <span id="present-narration" class="narration-line">{n}</span> }
            <span class="keys">{"→ step · ← back · space play/pause · p / Esc leave"}</span>
            <button id="present-exit" onclick={ctx.link().callback(|_| Msg::TogglePresent)}>{"Leave"}</button>
        </div>
    }
}
