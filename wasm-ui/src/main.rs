//! ZabLab's browser lab: a Yew/WebAssembly view over `zablab_core::sim`. See `app.rs` for the
//! component, `lab.rs` for the replay model (rewind, branches), `share.rs` for shareable runs.

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
    yew::Renderer::<app::App>::new().render();
}
