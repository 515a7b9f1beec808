//! The ZooKeeper commands of `zablab cli` (everything that talks to the server), each as
//! zkCli 3.8 parses its arguments and prints its answer.

use zablab_core::tree::path::CONFIG_PATH;
use zablab_core::tree::{Acl, AddWatchMode, CreateMode, DeleteRequest, WatcherType, WriteOp};

use super::format::{client_config_str, error_text, parse_acl, perms_text, stat_text, with_stat};
use super::{Args, Shell, HELP};
use crate::tools::zkclient::{first_error, ZkError};

/// The most bytes `reconfig -file` reads: a membership file is a few lines per server.
const MAX_RECONFIG_FILE_BYTES: u64 = 1 << 20;

/// `reconfig`'s arguments (ZooKeeper's `ReconfigCommand`): incremental (`-add`, `-remove`) or
/// non-incremental (`-members`, `-file`), never both; `-v` is the hex config version it must
/// start from.
#[derive(Debug, PartialEq)]
pub(super) struct Reconfig {
    pub joining: Option<String>,
    pub leaving: Option<String>,
    pub members: Option<String>,
    pub from_config: i64,
    pub stats: bool,
}

impl Reconfig {
    pub(super) fn parse(words: &[String]) -> Result<Reconfig, String> {
        const USAGE: &str = "reconfig [-s] [-v version] [[-file path] | \
            [-members serverID=host:port1:port2;port3[,...]*]] | \
            [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]";
        let mut r = Reconfig {
            joining: None,
            leaving: None,
            members: None,
            from_config: -1,
            stats: false,
        };
        let mut file = None;
        let mut it = words.iter();
        while let Some(w) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{w} needs a value"))
            };
            match w.as_str() {
                "-s" => r.stats = true,
                "-v" => {
                    let v = value()?;
                    r.from_config = i64::from_str_radix(&v, 16).map_err(|_| {
                        "-v must be followed by a long (configuration version)".to_string()
                    })?
                }
                "-add" => r.joining = Some(value()?.to_lowercase()),
                "-remove" => r.leaving = Some(value()?.to_lowercase()),
                "-members" => r.members = Some(value()?.to_lowercase()),
                "-file" => file = Some(value()?),
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        let non_incremental = file.is_some() || r.members.is_some();
        if !non_incremental && r.joining.is_none() && r.leaving.is_none() {
            return Err(USAGE.to_string());
        }
        if non_incremental && (r.joining.is_some() || r.leaving.is_some()) {
            return Err(
                "Can't use -file or -members together with -add or -remove (mixing \
                incremental and non-incremental modes is not allowed)"
                    .to_string(),
            );
        }
        if file.is_some() && r.members.is_some() {
            return Err(
                "Can't use -file and -members together (conflicting non-incremental modes)".into(),
            );
        }
        if let Some(path) = file {
            r.members = Some(members_of_file(&path)?);
        }
        Ok(r)
    }
}

/// The `server.N=...` lines of a dynamic config file, one per line, as the membership a
/// non-incremental reconfig sends (ZooKeeper sends its parsed QuorumVerifier the same way).
fn members_of_file(path: &str) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_RECONFIG_FILE_BYTES).read_to_string(&mut text))
        .map_err(|e| format!("Error processing {path}{e}"))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server."))
        .collect();
    if lines.is_empty() {
        return Err(format!("Error processing {path}: no server.N lines"));
    }
    Ok(lines.join("\n"))
}

impl Shell {
    pub(super) async fn exec_zk(&self, cmd: &str, rest: &[String]) -> Result<String, String> {
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
            "config" => {
                let a = Args::parse(rest, "")?;
                let (data, stat) = zk
                    .get_config(a.has('w'))
                    .await
                    .map_err(|e| error_text(&e, CONFIG_PATH))?;
                let text = match data {
                    Some(d) => String::from_utf8_lossy(&d).into_owned(),
                    None => "null".to_string(),
                };
                let head = if a.has('c') {
                    client_config_str(&text)
                } else {
                    text
                };
                Ok(with_stat(head, a.has('s').then_some(&stat)))
            }
            "reconfig" => {
                let r = Reconfig::parse(rest)?;
                let (data, stat) = zk
                    .reconfig(
                        r.joining.as_deref(),
                        r.leaving.as_deref(),
                        r.members.as_deref(),
                        r.from_config,
                    )
                    .await
                    .map_err(|e| error_text(&e, ""))?;
                let text = data
                    .map(|d| String::from_utf8_lossy(&d).into_owned())
                    .unwrap_or_default();
                Ok(with_stat(
                    format!("Committed new configuration:\n{text}"),
                    r.stats.then_some(&stat),
                ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn reconfig_reads_incremental_and_file_arguments() {
        let r = Reconfig::parse(&words("-s -v 100000002 -add SERVER.4=h:1:2;3 -remove 2,3"))
            .expect("parses");
        assert_eq!(r.joining.as_deref(), Some("server.4=h:1:2;3"));
        assert_eq!(r.leaving.as_deref(), Some("2,3"));
        assert_eq!(r.from_config, 0x1_0000_0002);
        assert!(r.stats && r.members.is_none());

        let dir = std::env::temp_dir().join(format!("zablab-reconfig-{}", std::process::id()));
        std::fs::write(
            &dir,
            "# dynamic config\nserver.1=a:1:2;3\nversion=5\nserver.2=b:1:2;3\n",
        )
        .expect("write");
        let r = Reconfig::parse(&words(&format!("-file {}", dir.display()))).expect("parses");
        let _ = std::fs::remove_file(&dir);
        assert_eq!(
            r.members.as_deref(),
            Some("server.1=a:1:2;3\nserver.2=b:1:2;3")
        );
        assert!(Reconfig::parse(&words("-s")).is_err(), "nothing to change");
        assert!(Reconfig::parse(&words("-file /nonexistent/zablab")).is_err());
    }
}
