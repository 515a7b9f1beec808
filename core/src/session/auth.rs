//! The auth packet (`addAuth`): ids added to a connection, within limits.
//!
//! Authentication is local to the server the client is connected to, as in ZooKeeper: the
//! provider (digest, ip; `super` when the digest matches this server's
//! `DigestAuthenticationProvider.superDigest`) turns credentials into ids, and only those ids
//! travel in the connection's transactions. Every id a connection holds is copied into each
//! of its writes, so their number and size are bounded: a client cannot inflate transactions
//! past what the other servers accept. Past a limit addAuth fails with AuthFailed and the
//! connection closes (what ZooKeeper does when an auth packet fails).

use alloc::vec::Vec;

use crate::tree::{authenticate, ConnId, ErrorCode, Id};

use super::{ClientMachine, ClientReply, ClientSessions, ReplyBody, SessionHost};
use crate::peer::Peer;

/// Ids one connection may hold (the `ip` id counts), at most.
pub const MAX_AUTH_IDS: usize = 16;
/// Bytes of one auth id (`scheme` + `id`), at most; also the longest auth packet payload.
pub const MAX_AUTH_ID_BYTES: usize = 1024;

/// Why an auth packet was refused, beyond the provider's own failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthLimitError {
    /// The credentials (or an id made from them) exceed [`MAX_AUTH_ID_BYTES`].
    IdTooLong,
    /// The connection would hold more than [`MAX_AUTH_IDS`] ids.
    TooManyIds,
}

impl AuthLimitError {
    fn message(self) -> &'static str {
        match self {
            AuthLimitError::IdTooLong => "authentication failed: auth id longer than 1024 bytes",
            AuthLimitError::TooManyIds => "authentication failed: more than 16 auth ids",
        }
    }
}

/// The ids a connection holds after adding `new`, or which limit that would break.
pub fn add_ids(held: &[Id], new: Vec<Id>) -> Result<Vec<Id>, AuthLimitError> {
    let mut ids = held.to_vec();
    for id in new {
        if id.scheme.len() + id.id.len() > MAX_AUTH_ID_BYTES {
            return Err(AuthLimitError::IdTooLong);
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > MAX_AUTH_IDS {
        return Err(AuthLimitError::TooManyIds);
    }
    Ok(ids)
}

impl<M: ClientMachine> ClientSessions<M> {
    /// Ids the host vouches for (the simulator's clients authenticate on their side), added
    /// to the connection within the same limits as an auth packet's.
    pub fn grant(
        &mut self,
        peer: &mut Peer<M>,
        conn: ConnId,
        ids: &[Id],
    ) -> Result<(), AuthLimitError> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        c.auth = add_ids(&c.auth, ids.to_vec())?;
        if let Some(tree) = peer.machine_mut().tree_mut() {
            tree.set_connection_auth(conn, &c.auth);
        }
        Ok(())
    }

    /// An auth packet, answered at once with the request's xid (ZooKeeper echoes it: Java,
    /// C and kazoo send -4, the Rust client its own xid).
    pub fn auth(
        &mut self,
        peer: &mut Peer<M>,
        host: &mut impl SessionHost,
        conn: ConnId,
        xid: i32,
        scheme: &str,
        auth: &[u8],
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(tree) = peer.machine_mut().tree_mut() else {
            return;
        };
        let ip = c
            .auth
            .iter()
            .find(|i| i.scheme == "ip")
            .map(|i| i.id.clone())
            .unwrap_or_default();
        let result = if auth.len() > MAX_AUTH_ID_BYTES {
            Err((ErrorCode::AuthFailed, AuthLimitError::IdTooLong.message()))
        } else {
            authenticate(&self.auth_config, scheme, auth, &ip)
                .map_err(|code| (code, "authentication failed"))
                .and_then(|new| {
                    add_ids(&c.auth, new).map_err(|e| (ErrorCode::AuthFailed, e.message()))
                })
        };
        match result {
            Ok(ids) => {
                c.auth = ids;
                tree.set_connection_auth(conn, &c.auth);
                host.send(
                    conn,
                    ClientReply::Reply {
                        xid,
                        zxid: 0,
                        body: ReplyBody::Status(ErrorCode::Ok),
                    },
                );
            }
            Err((code, why)) => {
                host.send(
                    conn,
                    ClientReply::Reply {
                        xid,
                        zxid: 0,
                        body: ReplyBody::Status(code),
                    },
                );
                self.close(peer, host, conn, why);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn ids_are_bounded_in_size_and_count_and_repeats_are_free() {
        let ip = alloc::vec![Id::new("ip", "127.0.0.1")];
        let long = "u".repeat(MAX_AUTH_ID_BYTES);
        assert_eq!(
            add_ids(&ip, alloc::vec![Id::new("digest", &long)]),
            Err(AuthLimitError::IdTooLong)
        );
        let mut held = ip.clone();
        for i in 1..MAX_AUTH_IDS {
            held =
                add_ids(&held, alloc::vec![Id::new("digest", &format!("u{i}:h"))]).expect("fits");
        }
        assert_eq!(held.len(), MAX_AUTH_IDS);
        // The same id again adds nothing, so it still fits.
        let again = add_ids(&held, alloc::vec![Id::new("digest", "u1:h")]).expect("repeat");
        assert_eq!(again.len(), MAX_AUTH_IDS);
        assert_eq!(
            add_ids(&held, alloc::vec![Id::new("digest", "one-more:h")]),
            Err(AuthLimitError::TooManyIds)
        );
    }
}
