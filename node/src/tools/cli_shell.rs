//! `zablab cli [-server host:port,...] [-timeout ms] [-r] [command ...]`: a zkCli-like shell
//! over [`crate::tools::zkclient`]. Interactive without a command (a prompt, `history`, `help`, watch
//! events printed as they arrive when `printwatches` is on); one-shot with a command, for
//! scripts: the command's output on stdout, errors on stderr, exit code 0 or 1.
//!
//! Output follows zkCli 3.8: `Created /a`, data then the stat lines for `get -s`,
//! `[a, b]` for `ls`, `Node does not exist: /a` for NoNode, and
//! `WATCHER::` / `WatchedEvent state:SyncConnected type:NodeDataChanged path:/a` for events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::tools::zkclient::{ConnectOptions, Status, ZkClient};

mod commands;
mod format;

pub use format::{client_config_str, code_message, error_text, parse_acl, perms_text, stat_text};

const HELP: &str = "ZooKeeper -server host:port,host:port cmd args
\taddauth scheme auth
\taddWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE
\tclose
\tconnect host:port
\tcreate [-s] [-e] [-c] [-t ttl] path [data] [acl]
\tdelete [-v version] path
\tdeleteall path [-b batch size]
\tget [-s] [-w] path
\tgetAcl [-s] path
\tgetAllChildrenNumber path
\tgetEphemerals path
\thistory
\tls [-s] [-w] [-R] path
\tprintwatches on|off
\tquit
\tremovewatches path [-c|-d|-a]
\tset [-s] [-v version] path data
\tsetAcl [-s] [-v version] [-R] path acl
\tstat [-w] path
\tsync path
\twhoami";

/// The shell's state: the session (if open), the server list, the history.
pub struct Shell {
    client: Option<ZkClient>,
    hosts: String,
    timeout_ms: i32,
    read_only: bool,
    history: Vec<String>,
    print_watches: Arc<AtomicBool>,
}

/// Flags (`-s`, `-v 3`) and positional words of a command line.
struct Args {
    flags: Vec<(char, Option<String>)>,
    words: Vec<String>,
}

impl Args {
    /// `with_value` lists the flags that take a value.
    fn parse(words: &[String], with_value: &str) -> Result<Args, String> {
        let mut flags = Vec::new();
        let mut pos = Vec::new();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            let mut cs = w.chars();
            match (cs.next(), cs.next(), cs.next()) {
                (Some('-'), Some(f), None) if f.is_ascii_alphabetic() => {
                    let v = if with_value.contains(f) {
                        Some(it.next().ok_or(format!("-{f} needs a value"))?.clone())
                    } else {
                        None
                    };
                    flags.push((f, v));
                }
                _ => pos.push(w.clone()),
            }
        }
        Ok(Args { flags, words: pos })
    }

    fn has(&self, f: char) -> bool {
        self.flags.iter().any(|(g, _)| *g == f)
    }

    fn value(&self, f: char) -> Option<&str> {
        self.flags
            .iter()
            .find(|(g, _)| *g == f)
            .and_then(|(_, v)| v.as_deref())
    }

    fn path(&self, i: usize) -> Result<&str, String> {
        let p = self.words.get(i).ok_or("missing path")?;
        if !p.starts_with('/') {
            return Err(format!("Path must start with / character: {p}"));
        }
        Ok(p)
    }

    fn int(&self, f: char, default: i32) -> Result<i32, String> {
        match self.value(f) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("-{f}: `{v}` is not a number")),
        }
    }
}

impl Shell {
    pub fn new(hosts: &str, timeout_ms: i32, read_only: bool) -> Shell {
        Shell {
            client: None,
            hosts: hosts.to_string(),
            timeout_ms,
            read_only,
            history: Vec::new(),
            print_watches: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Opens a session on `self.hosts`; events are printed by a background task.
    pub async fn connect(&mut self) -> Result<(), String> {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
        let mut o = ConnectOptions::new(&self.hosts);
        o.session_timeout_ms = self.timeout_ms;
        o.read_only = self.read_only;
        let (client, mut events) = ZkClient::connect(o).await.map_err(|e| e.to_string())?;
        let print = self.print_watches.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                if print.load(Ordering::Relaxed) {
                    println!("\nWATCHER::\n\n{ev}");
                }
            }
        });
        self.client = Some(client);
        Ok(())
    }

    pub fn prompt(&self) -> String {
        let state = match self.client.as_ref().map(ZkClient::status) {
            Some(Status::Connected) => "CONNECTED",
            Some(Status::ConnectedReadOnly) => "CONNECTEDREADONLY",
            Some(Status::Connecting) => "CONNECTING",
            Some(Status::Expired) => "EXPIRED",
            Some(Status::Closed) | None => "CLOSED",
        };
        format!("[zk: {}({state}) {}] ", self.hosts, self.history.len())
    }

    fn client(&self) -> Result<&ZkClient, String> {
        self.client
            .as_ref()
            .ok_or_else(|| "Not connected (use connect host:port)".to_string())
    }

    /// Runs one command line. `Ok(None)` means quit; `Ok(Some(text))` is the output.
    pub async fn exec(&mut self, line: &str) -> Result<Option<String>, String> {
        let mut words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            return Ok(Some(String::new()));
        }
        self.history.push(line.trim().to_string());
        if words[0] == "redo" {
            // zkCli: `redo N` runs history entry N again and records it in its own place.
            let current = self.history.len() - 1;
            let n = words
                .get(1)
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n < current)
                .ok_or("Command index out of range")?;
            let again = self.history[n].clone();
            words = again.split_whitespace().map(str::to_string).collect();
            if words.first().map(String::as_str) == Some("redo") {
                return Err("No redoing redos".to_string());
            }
            self.history[current] = again;
        }
        let cmd = &words[0];
        let rest = &words[1..];
        let out = match cmd.as_str() {
            "quit" | "exit" => return Ok(None),
            "help" | "h" => HELP.to_string(),
            // zkCli prints the last 10 commands before this one, and this one.
            "history" => self
                .history
                .iter()
                .enumerate()
                .skip(self.history.len().saturating_sub(11))
                .map(|(i, l)| format!("{i} - {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
            "printwatches" => {
                match rest.first().map(String::as_str) {
                    Some("on") => self.print_watches.store(true, Ordering::Relaxed),
                    Some("off") => self.print_watches.store(false, Ordering::Relaxed),
                    _ => {}
                }
                let on = self.print_watches.load(Ordering::Relaxed);
                format!("printwatches is {}", if on { "on" } else { "off" })
            }
            "connect" => {
                if let Some(h) = rest.first() {
                    self.hosts = h.clone();
                }
                self.connect().await?;
                String::new()
            }
            "close" => {
                if let Some(c) = self.client.take() {
                    c.close().await.map_err(|e| e.to_string())?;
                }
                String::new()
            }
            _ => self.exec_zk(cmd, rest).await?,
        };
        Ok(Some(out))
    }
}

/// The `zablab cli` entry point; returns the process exit code.
pub async fn run(args: Vec<String>) -> i32 {
    let mut hosts = "127.0.0.1:2181".to_string();
    let mut timeout_ms = 30_000;
    let mut read_only = false;
    let mut cmd = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-server" if cmd.is_empty() => match it.next() {
                Some(h) => hosts = h,
                None => {
                    eprintln!("-server needs host:port[,host:port...]");
                    return 2;
                }
            },
            "-timeout" if cmd.is_empty() => match it.next().and_then(|v| v.parse().ok()) {
                Some(t) => timeout_ms = t,
                None => {
                    eprintln!("-timeout needs milliseconds");
                    return 2;
                }
            },
            "-r" if cmd.is_empty() => read_only = true,
            "-waitforconnection" if cmd.is_empty() => {}
            _ => cmd.push(a),
        }
    }
    let mut shell = Shell::new(&hosts, timeout_ms, read_only);
    if !cmd.is_empty() {
        // One-shot: no event printing after the answer; the session is closed at the end.
        shell.print_watches.store(false, Ordering::Relaxed);
        if matches!(cmd[0].as_str(), "help" | "h") {
            println!("{HELP}");
            return 0;
        }
        if let Err(e) = shell.connect().await {
            eprintln!("cannot connect to {hosts}: {e}");
            return 1;
        }
        let code = match shell.exec(&cmd.join(" ")).await {
            Ok(Some(out)) => {
                if !out.is_empty() {
                    println!("{out}");
                }
                0
            }
            Ok(None) => 0,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        };
        if let Some(c) = shell.client.take() {
            let _ = c.close().await;
        }
        return code;
    }
    println!("Connecting to {hosts}");
    if let Err(e) = shell.connect().await {
        eprintln!("cannot connect to {hosts}: {e}");
    }
    // Lines come from a plain thread (stdin is blocking), one at a time.
    let (tx, mut lines) = tokio::sync::mpsc::channel::<String>(1);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(l) = line else { break };
            if tx.blocking_send(l).is_err() {
                break;
            }
        }
    });
    loop {
        print!("{}", shell.prompt());
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let Some(line) = lines.recv().await else {
            break;
        };
        match shell.exec(&line).await {
            Ok(Some(out)) if !out.is_empty() => println!("{out}"),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => println!("{e}"),
        }
    }
    if let Some(c) = shell.client.take() {
        let _ = c.close().await;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_words() {
        let w: Vec<String> = ["-s", "-v", "3", "/a", "data"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = Args::parse(&w, "v").expect("parses");
        assert!(a.has('s'));
        assert_eq!(a.int('v', -1), Ok(3));
        assert_eq!(a.path(0), Ok("/a"));
        assert_eq!(a.words[1], "data");
        assert!(Args::parse(&["-v".to_string()], "v").is_err());
    }
}
