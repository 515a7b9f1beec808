//! ZooKeeper's AdminServer: `GET <admin.commandURL>/<command>` answers a command in JSON, as
//! ZooKeeper 3.8's `JettyAdminServer` does (`Commands.java`): every response carries `command`
//! (the command's primary name) and `error` (null, or why it did not run), and
//! `GET <admin.commandURL>` lists the commands as links. Served on
//! `admin.serverAddress:admin.serverPort` when `admin.enableServer=true`, through the bounded
//! responder of [`crate::server::http`].

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::server::http::{self, Request, Response};
use crate::server::shared::Shared;

mod commands;

pub use commands::COMMANDS;

/// One AdminServer command: its names (the primary one first, then aliases) and whether it
/// needs a serving server (ZooKeeper's `isServerRequired`).
pub struct Command {
    pub names: &'static [&'static str],
    pub server_required: bool,
}

impl Command {
    pub fn primary(&self) -> &'static str {
        self.names.first().copied().unwrap_or("")
    }
}

/// ZooKeeper's `CommandResponse`: the command's fields plus `command` and `error`.
pub fn response(command: &str, error: Option<String>, mut fields: Map<String, Value>) -> Value {
    fields.insert("command".into(), Value::String(command.into()));
    // A command that failed part-way may have put its own error (ZooKeeper's `leader`).
    if !fields.contains_key("error") || error.is_some() {
        fields.insert("error".into(), error.map_or(Value::Null, Value::String));
    }
    Value::Object(fields)
}

/// The JSON answer to command `name` with the request's parameters.
pub async fn run(shared: &Shared, name: &str, req: &Request) -> Value {
    let Some(cmd) = COMMANDS.iter().find(|c| c.names.contains(&name)) else {
        return response(name, Some(format!("Unknown command: {name}")), Map::new());
    };
    if cmd.server_required && !shared.status().answers_clients() {
        return response(
            cmd.primary(),
            Some("This ZooKeeper instance is not currently serving requests".into()),
            Map::new(),
        );
    }
    let fields = commands::run(shared, cmd.primary(), req).await;
    response(cmd.primary(), None, fields)
}

/// `GET <commandURL>`: links to every command, as ZooKeeper's command list page.
fn listing(url: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(Command::primary).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("<a href=\"{url}/{n}\">{n}</a>\n<br/>\n"))
        .collect()
}

/// What the admin port answers.
pub async fn answer(shared: &Shared, req: &Request) -> Response {
    let url = shared.config.admin.command_url.as_str();
    let Some(rest) = req.path.strip_prefix(url) else {
        return Response::text(404, "not found\n");
    };
    let name = match rest.strip_prefix('/') {
        None if rest.is_empty() => return Response::new(200, "text/html", listing(url)),
        Some("") => return Response::new(200, "text/html", listing(url)),
        Some(n) => n,
        None => return Response::text(404, "not found\n"),
    };
    let body = run(shared, name, req).await;
    let text = serde_json::to_string_pretty(&body).unwrap_or_else(|_| "{}".into());
    Response::new(200, "application/json", text)
}

/// Serves the AdminServer on `listener`.
pub fn spawn(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    http::spawn(
        listener,
        Arc::new(move |req| {
            let shared = shared.clone();
            Box::pin(async move { answer(&shared, &req).await })
        }),
    );
}
