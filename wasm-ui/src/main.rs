//! ZabLab's browser lab: a Yew/WebAssembly view over `zablab_core::sim`. See `app.rs` for the
//! component, `lab.rs` for the replay model (rewind, branches), `share.rs` for shareable runs.

// The live module (`--features live`) renders only the live lab: the simulator's component is
// compiled but not reachable there.
#![cfg_attr(feature = "live", allow(dead_code))]

mod app;
mod bench;
mod browser;
mod catalog;
mod crash;
mod diagram;
mod files;
mod lab;
#[cfg(feature = "lessons")]
mod lesson;
#[cfg(not(feature = "lessons"))]
#[path = "lesson_stub.rs"]
mod lesson;
#[cfg(feature = "live")]
mod live;
mod museum;
mod page_client;
mod present;
mod share;
mod show;
mod view;
mod view_cluster;
mod view_lesson;
mod view_logs;
mod view_museum;
mod view_panels;
mod view_timers;

fn main() {
    // Only meaningful in a browser; the native build exists for `cargo test`.
    crash::install();
    #[cfg(feature = "live")]
    yew::Renderer::<live::LiveApp>::new().render();
    #[cfg(not(feature = "live"))]
    yew::Renderer::<app::App>::new().render();
}
