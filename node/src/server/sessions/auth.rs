//! The auth packet (`addAuth`): ids added to a connection, within [`limits`](super::limits).
//!
//! Authentication is local to the server the client is connected to, as in ZooKeeper: the
//! provider (digest, ip; `super` when the digest matches this server's
//! `DigestAuthenticationProvider.superDigest`) turns credentials into ids, and only those ids
//! travel in the connection's transactions. Every id a connection holds is copied into each
//! of its writes, so their number and size are bounded: a client cannot inflate transactions
//! past what the other servers accept.

use zablab_core::peer::Peer;
use zablab_core::tree::{authenticate, ErrorCode, Id};

use super::limits::{MAX_AUTH_IDS, MAX_AUTH_ID_BYTES};
use super::{ClientReply, ConnId, ReplyBody, Sessions};
use crate::codec::machine::NodeMachine;

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

impl Sessions {
    pub(super) fn auth<M: NodeMachine>(
        &mut self,
        peer: &mut Peer<M>,
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
                c.send(ClientReply::Reply {
                    xid,
                    zxid: 0,
                    body: ReplyBody::Status(ErrorCode::Ok),
                });
            }
            Err((code, why)) => {
                c.send(ClientReply::Reply {
                    xid,
                    zxid: 0,
                    body: ReplyBody::Status(code),
                });
                c.send(ClientReply::Close(why));
                self.drop_conn(peer, conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_in_size_and_count_and_repeats_are_free() {
        let ip = vec![Id::new("ip", "127.0.0.1")];
        let long = "u".repeat(MAX_AUTH_ID_BYTES);
        assert_eq!(
            add_ids(&ip, vec![Id::new("digest", &long)]),
            Err(AuthLimitError::IdTooLong)
        );
        let mut held = ip.clone();
        for i in 1..MAX_AUTH_IDS {
            held = add_ids(&held, vec![Id::new("digest", &format!("u{i}:h"))]).expect("fits");
        }
        assert_eq!(held.len(), MAX_AUTH_IDS);
        // The same id again adds nothing, so it still fits.
        let again = add_ids(&held, vec![Id::new("digest", "u1:h")]).expect("repeat");
        assert_eq!(again.len(), MAX_AUTH_IDS);
        assert_eq!(
            add_ids(&held, vec![Id::new("digest", "one-more:h")]),
            Err(AuthLimitError::TooManyIds)
        );
    }
}
