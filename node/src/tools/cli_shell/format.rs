//! What `zablab cli` prints, as zkCli 3.8 prints it: error messages, stats, ACLs, dates, the
//! client connection string of a config.

use zablab_core::tree::{Acl, ErrorCode, Stat};

use crate::codec::java_text::java_date;
use crate::tools::zkclient::ZkError;

/// zkCli's message for a failed call on `path` (`""` for calls without one, such as reconfig):
/// its `CliWrapperException` texts, else the `KeeperException` message.
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
            ErrorCode::BadArguments => format!("Arguments are not valid : {path}"),
            ErrorCode::NotReadOnly => format!("Not a read-only call: {path}"),
            ErrorCode::QuotaExceeded => format!("Quota has exceeded : {path}"),
            ErrorCode::ReconfigInProgress => {
                "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                    .to_string()
            }
            ErrorCode::NewConfigNoQuorum => "No quorum of new config is connected and up-to-date \
                with the leader of last committed config - try invoking reconfiguration after new \
                servers are connected and synced"
                .to_string(),
            other if path.is_empty() => format!("KeeperErrorCode = {}", code_message(*other)),
            other => format!("KeeperErrorCode = {} for {path}", code_message(*other)),
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

pub(super) fn with_stat(head: String, stat: Option<&Stat>) -> String {
    match stat {
        Some(s) => format!("{head}\n{}", stat_text(s)),
        None => head,
    }
}

/// `KeeperException.getCodeMessage`: the words ZooKeeper's exceptions print for a code.
pub fn code_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Ok => "ok",
        ErrorCode::SystemError => "SystemError",
        ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
        ErrorCode::DataInconsistency => "DataInconsistency",
        ErrorCode::ConnectionLoss => "ConnectionLoss",
        ErrorCode::MarshallingError => "MarshallingError",
        ErrorCode::Unimplemented => "Unimplemented",
        ErrorCode::OperationTimeout => "OperationTimeout",
        ErrorCode::BadArguments => "BadArguments",
        ErrorCode::UnknownSession => "Unknown session",
        ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorum",
        ErrorCode::ReconfigInProgress => "ReconfigInProgress",
        ErrorCode::ApiError => "APIError",
        ErrorCode::NoNode => "NoNode",
        ErrorCode::NoAuth => "NoAuth",
        ErrorCode::BadVersion => "BadVersion",
        ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemerals",
        ErrorCode::NodeExists => "NodeExists",
        ErrorCode::NotEmpty => "Directory not empty",
        ErrorCode::SessionExpired => "Session expired",
        ErrorCode::InvalidCallback => "Invalid callback",
        ErrorCode::InvalidAcl => "InvalidACL",
        ErrorCode::AuthFailed => "AuthFailed",
        ErrorCode::SessionMoved => "Session moved",
        ErrorCode::NotReadOnly => "Not a read-only call",
        ErrorCode::EphemeralOnLocalSession => "Ephemeral node on local session",
        ErrorCode::NoWatcher => "No such watcher",
        ErrorCode::RequestTimeout => "Request timeout",
        ErrorCode::ReconfigDisabled => "Reconfig is disabled",
        ErrorCode::SessionClosedRequireSaslAuth => {
            "Session closed because client failed to authenticate"
        }
        ErrorCode::QuotaExceeded => "Quota has exceeded",
        ErrorCode::ThrottledOp => "Op throttled due to high load",
    }
}

/// `config -c` (ZooKeeper's `ConfigUtils.getClientConfigStr`): the config's version, a space,
/// then the client address of each `server.N=...;[clientAddr:]clientPort` line, comma-separated.
/// A server line without a client address contributes nothing.
pub fn client_config_str(config: &str) -> String {
    let mut version = "";
    let mut addrs = Vec::new();
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            version = value;
        }
        if !key.starts_with("server.") {
            continue;
        }
        if let Some((_, client)) = value.split_once(';') {
            let client = client.trim();
            // `port` alone means every address (ZooKeeper prints 0.0.0.0).
            addrs.push(if client.contains(':') {
                client.to_string()
            } else {
                format!("0.0.0.0:{client}")
            });
        }
    }
    format!("{version} {}", addrs.join(","))
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
    fn the_client_connection_string_of_a_config() {
        let cfg = "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
                   server.2=127.0.0.1:2889:3889:participant;2182\n\
                   server.3=127.0.0.1:2890:3890:observer\nversion=100000000";
        assert_eq!(
            client_config_str(cfg),
            "100000000 127.0.0.1:2181,0.0.0.0:2182"
        );
    }

    #[test]
    fn errors_without_a_path_print_the_keeper_message() {
        let e = ZkError::Code(ErrorCode::ReconfigDisabled);
        assert_eq!(error_text(&e, ""), "KeeperErrorCode = Reconfig is disabled");
        assert_eq!(
            error_text(&ZkError::Code(ErrorCode::SessionMoved), "/a"),
            "KeeperErrorCode = Session moved for /a"
        );
    }
}
