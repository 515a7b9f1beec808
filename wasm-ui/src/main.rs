//! ZabLab's browser lab: a Yew/WebAssembly view over `zablab_core::sim`. See `app.rs` for the
//! component, `lab.rs` for the replay model (rewind, branches), `share.rs` for shareable runs.

mod app;
mod bench;
mod browser;
mod catalog;
mod files;
mod lab;
#[cfg(feature = "lessons")]
mod lesson;
#[cfg(not(feature = "lessons"))]
#[path = "lesson_stub.rs"]
mod lesson;
mod page_client;
mod share;
mod show;
mod view;
mod view_cluster;
mod view_lesson;
mod view_panels;

fn main() {
    // Only meaningful in a browser; the native build exists for `cargo test`.
    yew::Renderer::<app::App>::new().render();
}
