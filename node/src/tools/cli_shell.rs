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

use zablab_core::tree::{
    Acl, AddWatchMode, CreateMode, DeleteRequest, ErrorCode, Stat, WatcherType, WriteOp,
};

use crate::tools::zkclient::{first_error, ConnectOptions, Status, ZkClient, ZkError};

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

/// zkCli's message for a failed call on `path`.
pub fn error_text(e: &ZkError, path: &str) -> String {
    match e {
        ZkError::Code(c) => match c {
            ErrorCode::NoNode => format!("Node does not exist: {path}"),
            ErrorCode::NodeExists => format!("Node already exists: {path}"),
            ErrorCode::BadVersion => format!("version No is not valid : {path}"),
            ErrorCode::NotEmpty => format!("Node not empty: {path}"),
            ErrorCode::NoAuth => format!("Insufficient permission : {path}"),
            ErrorCode::NoChildrenForEphemerals => {
                format!("Ephemerals cannot have children: {path}")
            }
            ErrorCode::InvalidAcl => format!("Acl is not valid : {path}"),
            ErrorCode::NoWatcher => format!("No watcher found for the path: {path}"),
            other => format!("KeeperErrorCode = {other:?} for {path}"),
        },
        other => other.to_string(),
    }
}

/// `rwcda`-style letters for a permission mask, in zkCli's order.
pub fn perms_text(p: i32) -> String {
    [(4, 'c'), (8, 'd'), (1, 'r'), (2, 'w'), (16, 'a')]
        .iter()
        .filter(|(bit, _)| p & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// Parses `scheme:id:perms[,scheme:id:perms]` (the id may contain colons, e.g. digest).
pub fn parse_acl(s: &str) -> Result<Vec<Acl>, String> {
    let mut out = Vec::new();
    for entry in s.split(',').filter(|e| !e.is_empty()) {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            return Err(format!("{entry} does not have the form scheme:id:perm"));
        };
        if first == last {
            return Err(format!("{entry} does not have the form scheme:id:perm"));
        }
        let mut perms = 0;
        for c in entry[last + 1..].chars() {
            perms |= match c.to_ascii_lowercase() {
                'r' => 1,
                'w' => 2,
                'c' => 4,
                'd' => 8,
                'a' => 16,
                other => return Err(format!("unknown perm type: {other}")),
            };
        }
        out.push(Acl::new(perms, &entry[..first], &entry[first + 1..last]));
    }
    if out.is_empty() {
        return Err("empty ACL".into());
    }
    Ok(out)
}

/// Java's `Date.toString()` in UTC: `Thu Jan 01 00:00:00 UTC 1970`.
pub fn java_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WD[days.rem_euclid(7) as usize],
        MON[(month - 1).clamp(0, 11) as usize],
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        year
    )
}

/// zkCli's stat lines.
pub fn stat_text(s: &Stat) -> String {
    format!(
        "cZxid = {:#x}\nctime = {}\nmZxid = {:#x}\nmtime = {}\npZxid = {:#x}\ncversion = {}\n\
         dataVersion = {}\naclVersion = {}\nephemeralOwner = {:#x}\ndataLength = {}\n\
         numChildren = {}",
        s.czxid,
        java_date(s.ctime),
        s.mzxid,
        java_date(s.mtime),
        s.pzxid,
        s.cversion,
        s.version,
        s.aversion,
        s.ephemeral_owner,
        s.data_length,
        s.num_children
    )
}

fn with_stat(head: String, stat: Option<&Stat>) -> String {
    match stat {
        Some(s) => format!("{head}\n{}", stat_text(s)),
        None => head,
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
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let Some(cmd) = words.first() else {
            return Ok(Some(String::new()));
        };
        self.history.push(line.trim().to_string());
        let rest = &words[1..];
        let out = match cmd.as_str() {
            "quit" | "exit" => return Ok(None),
            "help" | "h" => HELP.to_string(),
            "history" => self
                .history
                .iter()
                .enumerate()
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

    async fn exec_zk(&self, cmd: &str, rest: &[String]) -> Result<String, String> {
        let zk = self.client()?;
        match cmd {
            "create" => {
                let a = Args::parse(rest, "t")?;
                let path = a.path(0)?;
                let data = a.words.get(1).map(|d| d.as_bytes().to_vec());
                let acl = match a.words.get(2) {
                    Some(s) => parse_acl(s)?,
                    None => vec![Acl::new(31, "world", "anyone")],
                };
                let (s, e, c) = (a.has('s'), a.has('e'), a.has('c'));
                let ttl = match a.value('t') {
                    Some(v) => Some(v.parse::<i64>().map_err(|_| format!("bad ttl {v}"))?),
                    None => None,
                };
                let mode = match (s, e, c, ttl.is_some()) {
                    (_, true, _, true) => {
                        return Err("TTLs cannot be used with Ephemeral znodes".into())
                    }
                    (_, _, true, true) => {
                        return Err("TTLs cannot be used with Container znodes".into())
                    }
                    (_, true, true, _) | (true, _, true, _) => {
                        return Err("-c cannot be combined with -s or -e".into())
                    }
                    (_, _, true, _) => CreateMode::Container,
                    (true, _, _, true) => CreateMode::PersistentSequentialWithTtl,
                    (false, _, _, true) => CreateMode::PersistentWithTtl,
                    (true, true, _, _) => CreateMode::EphemeralSequential,
                    (false, true, _, _) => CreateMode::Ephemeral,
                    (true, false, _, _) => CreateMode::PersistentSequential,
                    (false, false, _, _) => CreateMode::Persistent,
                };
                let d = data.as_deref();
                let created = match ttl {
                    Some(t) => zk.create_ttl(path, d, &acl, mode, t).await.map(|r| r.0),
                    None => zk.create(path, d, &acl, mode).await,
                };
                created
                    .map(|p| format!("Created {p}"))
                    .map_err(|e| error_text(&e, path))
            }
            "get" => {
                let a = Args::parse(rest, "")?;
                let path = a.path(0)?;
                let (data, stat) = zk
                    .get_data(path, a.has('w'))
                    .await
                    .map_err(|e| error_text(&e, path))?;
                let text = match data {
                    Some(d) => String::from_utf8_lossy(&d).into_owned(),
                    None => "null".to_string(),
                };
                Ok(with_stat(text, a.has('s').then_some(&stat)))
            }
            "set" => {
                let a = Args::parse(rest, "v")?;
                let path = a.path(0)?;
                let data = a.words.get(1).ok_or("set needs data")?;
                let stat = zk
                    .set_data(path, Some(data.as_bytes()), a.int('v', -1)?)
                    .await
                    .map_err(|e| error_text(&e, path))?;
                Ok(if a.has('s') {
                    stat_text(&stat)
                } else {
                    String::new()
                })
            }
            "ls" => {
                let a = Args::parse(rest, "")?;
                let path = a.path(0)?;
                if a.has('R') {
                    return Ok(self.walk(path).await?.join("\n"));
                }
                let (mut kids, stat) = zk
                    .get_children2(path, a.has('w'))
                    .await
                    .map_err(|e| error_text(&e, path))?;
                kids.sort();
                let text = format!("[{}]", kids.join(", "));
                Ok(with_stat(text, a.has('s').then_some(&stat)))
            }
            "stat" => {
                let a = Args::parse(rest, "")?;
                let path = a.path(0)?;
                match zk.exists(path, a.has('w')).await {
                    Ok(Some(s)) => Ok(stat_text(&s)),
                    Ok(None) => Err(format!("Node does not exist: {path}")),
                    Err(e) => Err(error_text(&e, path)),
                }
            }
            "delete" => {
                let a = Args::parse(rest, "v")?;
                let path = a.path(0)?;
                zk.delete(path, a.int('v', -1)?)
                    .await
                    .map(|_| String::new())
                    .map_err(|e| error_text(&e, path))
            }
            "deleteall" | "rmr" => {
                let a = Args::parse(rest, "b")?;
                let path = a.path(0)?;
                let batch = a.int('b', 1000)?.max(1) as usize;
                let all = self.walk(path).await?;
                for chunk in all.rchunks(batch).collect::<Vec<_>>() {
                    let ops = chunk
                        .iter()
                        .rev()
                        .map(|p| {
                            WriteOp::Delete(DeleteRequest {
                                path: p.clone(),
                                version: -1,
                            })
                        })
                        .collect();
                    let results = zk.multi(ops).await.map_err(|e| error_text(&e, path))?;
                    if let Some(c) = first_error(&results) {
                        return Err(error_text(&ZkError::Code(c), path));
                    }
                }
                Ok(String::new())
            }
            "getAcl" => {
                let a = Args::parse(rest, "")?;
                let path = a.path(0)?;
                let (acl, stat) = zk.get_acl(path).await.map_err(|e| error_text(&e, path))?;
                let text = acl
                    .iter()
                    .map(|e| format!("'{},'{}\n: {}", e.id.scheme, e.id.id, perms_text(e.perms)))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok(with_stat(text, a.has('s').then_some(&stat)))
            }
            "setAcl" => {
                let a = Args::parse(rest, "v")?;
                let path = a.path(0)?;
                let acl = parse_acl(a.words.get(1).ok_or("setAcl needs an acl")?)?;
                let version = a.int('v', -1)?;
                let targets = if a.has('R') {
                    self.walk(path).await?
                } else {
                    vec![path.to_string()]
                };
                let mut last = None;
                for p in &targets {
                    last = Some(
                        zk.set_acl(p, &acl, version)
                            .await
                            .map_err(|e| error_text(&e, p))?,
                    );
                }
                Ok(match (a.has('s'), last) {
                    (true, Some(s)) => stat_text(&s),
                    _ => String::new(),
                })
            }
            "addauth" => {
                let scheme = rest.first().ok_or("addauth needs a scheme")?;
                let auth = rest.get(1).map(String::as_str).unwrap_or("");
                zk.add_auth(scheme, auth.as_bytes())
                    .await
                    .map(|_| String::new())
                    .map_err(|e| e.to_string())
            }
            "sync" => {
                let a = Args::parse(rest, "")?;
                let path = a.path(0)?;
                zk.sync(path)
                    .await
                    .map(|_| "Sync is OK".to_string())
                    .map_err(|e| error_text(&e, path))
            }
            "whoami" => {
                let infos = zk.who_am_i().await.map_err(|e| e.to_string())?;
                Ok(infos
                    .iter()
                    .map(|i| format!("Auth scheme: User\n{}: {}", i.auth_scheme, i.user))
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            "getEphemerals" => {
                let prefix = rest.first().map(String::as_str).unwrap_or("/");
                let mut v = zk
                    .get_ephemerals(prefix)
                    .await
                    .map_err(|e| error_text(&e, prefix))?;
                v.sort();
                Ok(format!("[{}]", v.join(", ")))
            }
            "getAllChildrenNumber" => {
                let a = Args::parse(rest, "")?;
                let path = a.path(0)?;
                zk.get_all_children_number(path)
                    .await
                    .map(|n| n.to_string())
                    .map_err(|e| error_text(&e, path))
            }
            "addWatch" => {
                let a = Args::parse(rest, "m")?;
                let path = a.path(0)?;
                let mode = match a.value('m') {
                    None | Some("PERSISTENT_RECURSIVE") => AddWatchMode::PersistentRecursive,
                    Some("PERSISTENT") => AddWatchMode::Persistent,
                    Some(m) => return Err(format!("unknown mode {m}")),
                };
                zk.add_watch(path, mode)
                    .await
                    .map(|_| String::new())
                    .map_err(|e| error_text(&e, path))
            }
            "removewatches" => {
                let a = Args::parse(rest, "")?;
                let path = a.path(0)?;
                let t = if a.has('c') {
                    WatcherType::Children
                } else if a.has('d') {
                    WatcherType::Data
                } else {
                    WatcherType::Any
                };
                zk.remove_watches(path, t)
                    .await
                    .map(|_| String::new())
                    .map_err(|e| error_text(&e, path))
            }
            other => Err(format!("Command not found: {other}\n{HELP}")),
        }
    }

    /// `path` and every descendant, breadth first (zkCli's `ls -R` order).
    async fn walk(&self, path: &str) -> Result<Vec<String>, String> {
        let zk = self.client()?;
        let mut out = vec![path.to_string()];
        let mut i = 0;
        while i < out.len() {
            let p = out[i].clone();
            let mut kids = zk
                .get_children(&p, false)
                .await
                .map_err(|e| error_text(&e, &p))?;
            kids.sort();
            for k in kids {
                out.push(if p == "/" {
                    format!("/{k}")
                } else {
                    format!("{p}/{k}")
                });
            }
            i += 1;
        }
        Ok(out)
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
    fn acl_text_and_perms() {
        let acl = parse_acl("world:anyone:cdrwa,digest:user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=:r")
            .expect("parses");
        assert_eq!(acl[0], Acl::new(31, "world", "anyone"));
        assert_eq!(
            acl[1],
            Acl::new(1, "digest", "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=")
        );
        assert_eq!(perms_text(31), "cdrwa");
        assert_eq!(perms_text(3), "rw");
        assert!(parse_acl("world:anyone").is_err());
        assert!(parse_acl("world:anyone:x").is_err());
    }

    #[test]
    fn dates_print_like_java_in_utc() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_700_000_000_000), "Tue Nov 14 22:13:20 UTC 2023");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }

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
