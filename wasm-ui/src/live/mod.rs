//! The live lab (`?live=`): the page draws the real `zablab` servers that `cargo xtask lab`
//! started, from their trace streams (a WebSocket per server on its `--trace-addr`), and acts
//! on them through the lab process's control API (`/api/…`, proxied by `xtask serve` to
//! `zablab cluster --control`). Built as its own wasm module (`zablab-live`, feature `live`),
//! loaded only for `?live`, so the simulator's page keeps its size.
//!
//! | file | what |
//! |---|---|
//! | [`model`] | the picture, folded from trace records (no browser types; tested natively) |
//! | [`view`] | the drawing, the panels, the timeline |
//! | this file | the component: sockets, the control API, the clock, replay of a saved session |
//!
//! `?live` (empty) asks `/api/cluster` for the servers; `?live=HOST:PORT,HOST:PORT` names
//! trace addresses directly (watching only: without the control API nothing can be acted on).

pub mod model;
mod view;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use zablab_core::trace::{TraceHeader, TraceRecord};
use zablab_core::Sid;

use model::LiveModel;

/// Records waiting in the page between two ticks; past it the page drops them and counts them
/// as skipped (the servers never wait for the page either).
const MAX_INBOX: usize = 100_000;
/// How often the picture is redrawn and the inbox folded.
const TICK_MS: u32 = 50;
/// How often `/api/cluster` is asked (processes, PIDs, cuts).
const CLUSTER_POLL_MS: f64 = 1_000.0;
/// A closed stream is reopened this long after it closed (a restarted server comes back).
const RECONNECT_MS: f64 = 700.0;

/// What the sockets hand the component.
enum Inbox {
    Open { addr: String, sid: Sid },
    Record(Box<TraceRecord>),
    Closed { addr: String },
    Refused { addr: String, why: String },
}

#[derive(Default)]
struct Shared {
    items: Vec<Inbox>,
    dropped: u64,
}

/// One trace stream. The closures live as long as the socket.
struct Stream {
    ws: web_sys::WebSocket,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_close: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// A saved session being replayed (read-only): the records and the moment shown.
pub struct Replay {
    pub records: Vec<TraceRecord>,
    pub at: usize,
    pub model: LiveModel,
}

/// The page's client form.
#[derive(Clone, Default)]
pub struct ClientForm {
    pub path: String,
    pub data: String,
    pub via: Option<Sid>,
    pub result: Option<Result<String, String>>,
}

pub enum Msg {
    Tick,
    Cluster(Result<String, String>),
    /// A control API request: method and path under `/api/`.
    Act(&'static str, String),
    Acted(String, Result<String, String>),
    Select(Option<Sid>),
    Path(String),
    Data(String),
    Via(Sid),
    Write,
    Read,
    Save,
    /// Replay this page's own recording of the session.
    ReplayRecorded,
    Open(String),
    OpenError(String),
    Scrub(usize),
    BackToLive,
    ToggleLarge,
}

pub struct LiveApp {
    pub model: LiveModel,
    /// The control API answered (actions are offered).
    pub api: bool,
    /// Trace addresses named by `?live=` (no control API asked).
    fixed: Vec<String>,
    shared: Rc<RefCell<Shared>>,
    streams: BTreeMap<String, Stream>,
    /// When each closed stream may be reopened (page ms).
    retry_at: BTreeMap<String, f64>,
    /// (newest record time, page ms it was folded): the live clock runs on from it.
    seen: (u64, f64),
    pub selected: Option<Sid>,
    pub replay: Option<Replay>,
    pub form: ClientForm,
    pub notice: Option<String>,
    pub large: bool,
    pub stage_px: (f64, f64),
    last_poll: f64,
    /// Records per second over the last second, and the window being counted.
    pub rate: f64,
    rate_window: (f64, u64),
    /// Records the page itself dropped (its inbox was full).
    pub page_dropped: u64,
    _timer: gloo_timers::callback::Interval,
}

impl LiveApp {
    /// The model shown: the replayed moment, or the live picture.
    pub fn shown(&self) -> &LiveModel {
        match &self.replay {
            Some(r) => &r.model,
            None => &self.model,
        }
    }

    /// The record-clock time the picture shows.
    pub fn now(&self) -> u64 {
        match &self.replay {
            Some(r) => r.model.latest,
            None => {
                let ahead = (crate::browser::now_ms() - self.seen.1).clamp(0.0, 2_000.0);
                self.seen.0 + ahead as u64
            }
        }
    }

    fn open_stream(&mut self, addr: &str) {
        let url = format!("ws://{addr}/");
        let Ok(ws) = web_sys::WebSocket::new(&url) else {
            self.retry_at
                .insert(addr.to_string(), crate::browser::now_ms() + RECONNECT_MS);
            return;
        };
        let (shared, a) = (self.shared.clone(), addr.to_string());
        let mut header_seen = false;
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                let Some(text) = e.data().as_string() else {
                    return;
                };
                let mut s = shared.borrow_mut();
                if !header_seen {
                    header_seen = true;
                    let item = match serde_json::from_str::<TraceHeader>(&text) {
                        Ok(h) if h.is_readable() => match h.node {
                            Some(sid) => Inbox::Open {
                                addr: a.clone(),
                                sid,
                            },
                            None => Inbox::Refused {
                                addr: a.clone(),
                                why: "a cluster trace, not one server's stream".into(),
                            },
                        },
                        Ok(h) => Inbox::Refused {
                            addr: a.clone(),
                            why: format!("trace format {} version {}", h.format, h.version),
                        },
                        Err(e) => Inbox::Refused {
                            addr: a.clone(),
                            why: format!("not a trace header: {e}"),
                        },
                    };
                    s.items.push(item);
                    return;
                }
                if s.items.len() >= MAX_INBOX {
                    s.dropped += 1;
                    return;
                }
                match serde_json::from_str::<TraceRecord>(&text) {
                    Ok(r) => s.items.push(Inbox::Record(Box::new(r))),
                    Err(e) => s.items.push(Inbox::Refused {
                        addr: a.clone(),
                        why: format!("a record the page cannot read: {e}"),
                    }),
                }
            });
        let (shared, a) = (self.shared.clone(), addr.to_string());
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            shared
                .borrow_mut()
                .items
                .push(Inbox::Closed { addr: a.clone() });
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.streams.insert(
            addr.to_string(),
            Stream {
                ws,
                _on_message: on_message,
                _on_close: on_close,
            },
        );
    }

    fn sid_of(&self, addr: &str) -> Option<Sid> {
        self.model
            .servers
            .values()
            .find(|s| s.trace == addr)
            .map(|s| s.sid)
    }

    /// Folds what the sockets brought since the last tick.
    fn drain(&mut self) {
        let (items, dropped) = {
            let mut s = self.shared.borrow_mut();
            (std::mem::take(&mut s.items), std::mem::take(&mut s.dropped))
        };
        self.page_dropped += dropped;
        let now = crate::browser::now_ms();
        let mut folded = 0u64;
        for item in items {
            match item {
                Inbox::Open { addr, sid } => {
                    self.model.know(sid, &addr, "");
                    self.model.connected(sid);
                }
                Inbox::Record(r) => {
                    folded += 1;
                    self.model.apply(*r);
                }
                Inbox::Closed { addr } => {
                    if let Some(sid) = self.sid_of(&addr) {
                        self.model.disconnected(sid, self.model.latest);
                    }
                    self.streams.remove(&addr);
                    self.retry_at.insert(addr, now + RECONNECT_MS);
                }
                Inbox::Refused { addr, why } => {
                    self.notice = Some(format!("{addr}: {why}"));
                    self.streams.remove(&addr);
                    self.retry_at.insert(addr, now + 10.0 * RECONNECT_MS);
                }
            }
        }
        if folded > 0 {
            self.seen = (self.model.settled(), now);
        }
        let (start, count) = self.rate_window;
        self.rate_window.1 = count + folded;
        if now - start >= 1_000.0 {
            self.rate = self.rate_window.1 as f64 * 1_000.0 / (now - start);
            self.rate_window = (now, 0);
        }
    }

    /// The trace addresses to keep a stream open to.
    fn wanted(&self) -> Vec<String> {
        if !self.fixed.is_empty() {
            return self.fixed.clone();
        }
        self.model
            .servers
            .values()
            .filter(|s| !s.trace.is_empty() && s.running != Some(false))
            .map(|s| s.trace.clone())
            .collect()
    }

    fn keep_streams(&mut self) {
        let now = crate::browser::now_ms();
        for addr in self.wanted() {
            if self.streams.contains_key(&addr) {
                continue;
            }
            if self.retry_at.get(&addr).is_some_and(|t| now < *t) {
                continue;
            }
            self.retry_at.remove(&addr);
            self.open_stream(&addr);
        }
    }

    /// Shows `records` from their end, paused, with a scrubber.
    fn replay_records(&mut self, records: Vec<TraceRecord>) {
        let at = records.len();
        let model = self.model.replayed(&records);
        self.replay = Some(Replay { records, at, model });
    }

    /// Folds `/api/cluster`'s answer: the servers, their processes, the cuts.
    fn cluster_answer(&mut self, body: &str) -> Result<(), String> {
        let v: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("/api/cluster: {e}"))?;
        let servers = v["servers"].as_array().ok_or("/api/cluster: no servers")?;
        for s in servers {
            let Some(sid) = s["sid"].as_u64() else {
                continue;
            };
            let server = self.model.know(
                sid,
                s["trace"].as_str().unwrap_or(""),
                s["client"].as_str().unwrap_or(""),
            );
            server.running = s["running"].as_bool();
            server.pid = s["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
        }
        self.model.cuts = v["cuts"]
            .as_array()
            .map(|cuts| {
                cuts.iter()
                    .filter_map(|c| Some((c["from"].as_u64()?, c["to"].as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(())
    }
}

/// A request to the control API: `(method, path)` → the answer's body, or why not.
async fn api(method: &str, path: &str) -> Result<String, String> {
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let failed = |e: JsValue| {
        e.as_string()
            .or_else(|| js_sys::Error::from(e).message().as_string())
            .unwrap_or_else(|| "the request failed".into())
    };
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str_and_init(&format!("/api/{path}"), &init))
            .await
            .map_err(failed)?
            .dyn_into()
            .map_err(|_| "not an HTTP response".to_string())?;
    let ok = response.ok();
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(failed)?)
        .await
        .map_err(failed)?
        .as_string()
        .unwrap_or_default();
    if ok {
        Ok(text)
    } else {
        let why = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(text);
        Err(format!("HTTP {status}: {why}"))
    }
}

/// A query value, percent-encoded.
pub fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `?live=` … : the trace addresses it names (empty: ask the control API).
pub fn live_addrs(search: &str) -> Vec<String> {
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("live="))
        .map(|v| {
            v.replace("%3A", ":")
                .replace("%3a", ":")
                .replace("%2C", ",")
                .replace("%2c", ",")
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Component for LiveApp {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let (search, _) = crate::browser::location();
        let fixed = live_addrs(&search);
        let link = ctx.link().clone();
        let timer =
            gloo_timers::callback::Interval::new(TICK_MS, move || link.send_message(Msg::Tick));
        let mut model = LiveModel::new(true);
        for (i, a) in fixed.iter().enumerate() {
            // Until its header says which server it is.
            model.know(i as Sid + 1, a, "");
        }
        let now = crate::browser::now_ms();
        LiveApp {
            model,
            api: false,
            fixed,
            shared: Rc::new(RefCell::new(Shared::default())),
            streams: BTreeMap::new(),
            retry_at: BTreeMap::new(),
            seen: (0, now),
            selected: None,
            replay: None,
            form: ClientForm {
                path: "/live".into(),
                data: "hello".into(),
                ..ClientForm::default()
            },
            notice: None,
            large: false,
            stage_px: crate::present::first_stage_px(),
            last_poll: f64::NEG_INFINITY,
            rate: 0.0,
            rate_window: (now, 0),
            page_dropped: 0,
            _timer: timer,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Tick => {
                self.drain();
                let now = crate::browser::now_ms();
                if self.fixed.is_empty() && now - self.last_poll >= CLUSTER_POLL_MS {
                    self.last_poll = now;
                    ctx.link()
                        .send_future(async { Msg::Cluster(api("GET", "cluster").await) });
                }
                self.keep_streams();
                if let Some((w, h)) = view::measure() {
                    self.stage_px = (w, h);
                }
            }
            Msg::Cluster(Ok(body)) => {
                self.api = true;
                if let Err(e) = self.cluster_answer(&body) {
                    self.notice = Some(e);
                }
            }
            Msg::Cluster(Err(e)) => {
                self.api = false;
                self.notice = Some(format!(
                    "no control API ({e}): start the lab with `cargo xtask lab`"
                ));
            }
            Msg::Act(method, path) => {
                let what = path.clone();
                ctx.link()
                    .send_future(async move { Msg::Acted(what, api(method, &path).await) });
            }
            Msg::Acted(what, result) => {
                self.last_poll = f64::NEG_INFINITY;
                let answer = match &result {
                    Ok(body) => format!("{what}: {body}"),
                    Err(e) => format!("{what}: {e}"),
                };
                if what.contains("/write") || what.contains("/read") {
                    self.form.result = Some(result.map(|_| answer));
                } else {
                    self.notice = Some(answer);
                }
            }
            Msg::Select(s) => self.selected = s,
            Msg::Path(p) => self.form.path = p,
            Msg::Data(d) => self.form.data = d,
            Msg::Via(s) => self.form.via = Some(s),
            Msg::Write | Msg::Read => {
                let Some(via) = self
                    .form
                    .via
                    .or_else(|| self.model.servers.keys().next().copied())
                else {
                    return true;
                };
                let path = encode(&self.form.path);
                let (method, op) = match msg {
                    Msg::Write => (
                        "POST",
                        format!("write?path={path}&data={}", encode(&self.form.data)),
                    ),
                    _ => ("GET", format!("read?path={path}")),
                };
                ctx.link()
                    .send_message(Msg::Act(method, format!("servers/{via}/{op}")));
            }
            Msg::Save => {
                let text = model::session_file(&self.model.recorded);
                crate::files::download("zablab-live-session.jsonl", &text);
            }
            Msg::ReplayRecorded => self.replay_records(self.model.recorded.clone()),
            Msg::Open(text) => match model::read_session(&text) {
                Ok(records) => self.replay_records(records),
                Err(e) => self.notice = Some(format!("cannot open the session: {e}")),
            },
            Msg::OpenError(e) => self.notice = Some(e),
            Msg::Scrub(at) => {
                if let Some(r) = &mut self.replay {
                    r.at = at.min(r.records.len());
                    r.model = self.model.replayed(&r.records[..r.at]);
                }
            }
            Msg::BackToLive => self.replay = None,
            Msg::ToggleLarge => self.large = !self.large,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        view::page(self, ctx)
    }
}
