//! ACLs and authentication (docs/protocol.md §8): the schemes world, auth, digest, ip and super,
//! the permission check (`checkACL`) and the create/setACL fixup (`fixupACL`).
//!
//! Authentication happens on the server a client is connected to (an `auth` packet turns into
//! [`Id`]s held by the connection); those ids travel inside every write transaction, so the
//! permission check at apply time gives the same answer on every replica.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

use super::error::ErrorCode;

/// Permission bits (`ZooDefs.Perms`).
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = 31;
}

/// An identity: `scheme:id` (jute `Id{ustring scheme; ustring id}`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.to_string(),
            id: id.to_string(),
        }
    }

    /// `world:anyone`.
    pub fn anyone() -> Id {
        Id::new("world", "anyone")
    }
}

/// One ACL entry (jute `ACL{i32 perms; Id id}`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    pub fn new(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }
}

/// `OPEN_ACL_UNSAFE`: world:anyone ALL.
pub fn open_acl_unsafe() -> Vec<Acl> {
    alloc::vec![Acl::new(perms::ALL, "world", "anyone")]
}

/// `CREATOR_ALL_ACL`: auth:"" ALL (fixed up to the creator's ids).
pub fn creator_all_acl() -> Vec<Acl> {
    alloc::vec![Acl::new(perms::ALL, "auth", "")]
}

/// `READ_ACL_UNSAFE`: world:anyone READ.
pub fn read_acl_unsafe() -> Vec<Acl> {
    alloc::vec![Acl::new(perms::READ, "world", "anyone")]
}

/// The digest scheme's id for `user:password`: `user:base64(sha1("user:password"))`.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    let mut out = String::from(user);
    out.push(':');
    out.push_str(&base64::engine::general_purpose::STANDARD.encode(hash));
    out
}

/// Server-side authentication settings (ZooKeeper system properties).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuthConfig {
    /// `zookeeper.DigestAuthenticationProvider.superDigest`, e.g.
    /// `super:D/InIHSb7yEEbrWz8b9l71RjZJU=`.
    pub super_digest: Option<String>,
    /// `zookeeper.skipACL=yes`: every permission check passes.
    pub skip_acl: bool,
}

/// Handles an `auth` packet (`AuthPacket{type, scheme, auth}`): the ids to add to the
/// connection, or AuthFailed (-115) for an unknown scheme or unusable credentials.
/// `remote_ip` is the connection's address, which the `ip` scheme adds again.
pub fn authenticate(
    config: &AuthConfig,
    scheme: &str,
    auth: &[u8],
    remote_ip: &str,
) -> Result<Vec<Id>, ErrorCode> {
    match scheme {
        "digest" => {
            let text = core::str::from_utf8(auth).map_err(|_| ErrorCode::AuthFailed)?;
            let id = digest_id(text);
            let mut ids = alloc::vec![Id::new("digest", &id)];
            if config.super_digest.as_deref() == Some(id.as_str()) {
                ids.push(Id::new("super", ""));
            }
            Ok(ids)
        }
        "ip" => Ok(alloc::vec![Id::new("ip", remote_ip)]),
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// Parses `addr` or `addr/bits` for the ip scheme.
fn parse_ip_with_bits(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u32>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((ip, bits))
}

fn ip_bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(a) => (u32::from(a) as u128, 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// The ip scheme's match: mask both to the ACL's bits; v4 never matches v6.
pub fn ip_matches(acl_id: &str, remote: &str) -> bool {
    let (Some((net, bits)), Ok(addr)) = (parse_ip_with_bits(acl_id), remote.parse::<IpAddr>())
    else {
        return false;
    };
    if net.is_ipv4() != addr.is_ipv4() {
        return false;
    }
    let (n, width) = ip_bits(net);
    let (a, _) = ip_bits(addr);
    let shift = width - bits;
    if shift >= width {
        return true;
    }
    (n >> shift) == (a >> shift)
}

/// A provider's `isValid(id)` for the schemes with a registered provider (§8).
fn is_valid_id(id: &Id) -> bool {
    match id.scheme.as_str() {
        "world" => id.id == "anyone",
        "digest" => id.id.split(':').count() == 2,
        "ip" => parse_ip_with_bits(&id.id).is_some(),
        _ => false,
    }
}

/// Schemes whose provider counts as "authenticated" for the `auth` pseudo-scheme.
fn is_authenticated_scheme(scheme: &str) -> bool {
    matches!(scheme, "digest" | "sasl" | "x509")
}

/// `fixupACL` for create and setACL: removes duplicates, expands `auth`, validates every id.
pub fn fixup_acl(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::new();
    let push = |a: Acl, out: &mut Vec<Acl>| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for entry in acl {
        if entry.id.scheme == "auth" {
            let mut any = false;
            for id in auth.iter().filter(|i| is_authenticated_scheme(&i.scheme)) {
                any = true;
                push(
                    Acl {
                        perms: entry.perms,
                        id: id.clone(),
                    },
                    &mut out,
                );
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(&entry.id) {
            push(entry.clone(), &mut out);
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// `checkACL` (§8): Ok when `auth` may do `perm` on a node with `acl`, else NoAuth.
pub fn check_acl(
    config: &AuthConfig,
    acl: &[Acl],
    perm: i32,
    auth: &[Id],
) -> Result<(), ErrorCode> {
    if config.skip_acl || acl.is_empty() || auth.iter().any(|i| i.scheme == "super") {
        return Ok(());
    }
    for entry in acl.iter().filter(|e| e.perms & perm != 0) {
        if entry.id.scheme == "world" && entry.id.id == "anyone" {
            return Ok(());
        }
        for id in auth.iter().filter(|i| i.scheme == entry.id.scheme) {
            let hit = match id.scheme.as_str() {
                "digest" => id.id == entry.id.id,
                "ip" => ip_matches(&entry.id.id, &id.id),
                _ => false,
            };
            if hit {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// getACL's redaction for callers without ADMIN: digest ids become `user:x`.
pub fn redact_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                let mut id = String::from(user);
                id.push_str(":x");
                Acl {
                    perms: a.perms,
                    id: Id {
                        scheme: a.id.scheme.clone(),
                        id,
                    },
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn digest_test_vectors_match_zookeeper() {
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(
            digest_id("user:password"),
            "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY="
        );
    }

    #[test]
    fn digest_auth_adds_super_when_it_matches_the_super_digest() {
        let cfg = AuthConfig {
            super_digest: Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=".into()),
            skip_acl: false,
        };
        let ids = authenticate(&cfg, "digest", b"super:test", "127.0.0.1").unwrap();
        assert_eq!(
            ids,
            vec![
                Id::new("digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
                Id::new("super", "")
            ]
        );
        let ids = authenticate(&cfg, "digest", b"user:password", "127.0.0.1").unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(
            authenticate(&cfg, "kerberos", b"x", "1.2.3.4"),
            Err(ErrorCode::AuthFailed)
        );
        assert_eq!(
            authenticate(&cfg, "digest", &[0xff, 0xfe], "1.2.3.4"),
            Err(ErrorCode::AuthFailed)
        );
        assert_eq!(
            authenticate(&cfg, "ip", b"", "1.2.3.4"),
            Ok(vec![Id::new("ip", "1.2.3.4")])
        );
    }

    #[test]
    fn ip_scheme_masks_v4_and_v6_and_never_mixes_them() {
        assert!(ip_matches("10.1.2.3", "10.1.2.3"));
        assert!(!ip_matches("10.1.2.3", "10.1.2.4"));
        assert!(ip_matches("10.1.0.0/16", "10.1.200.7"));
        assert!(!ip_matches("10.1.0.0/16", "10.2.0.1"));
        assert!(ip_matches("0.0.0.0/0", "192.168.1.1"));
        assert!(ip_matches("2001:db8::/32", "2001:db8:1::5"));
        assert!(!ip_matches("2001:db8::/32", "2001:db9::5"));
        assert!(!ip_matches("::/0", "10.0.0.1"));
        assert!(!ip_matches("10.0.0.0/33", "10.0.0.1"));
        assert!(!ip_matches("garbage", "10.0.0.1"));
    }

    #[test]
    fn check_acl_order_world_super_digest_ip() {
        let cfg = AuthConfig::default();
        let acl = vec![
            Acl::new(perms::READ, "digest", "u:h"),
            Acl::new(perms::ALL, "ip", "10.0.0.0/8"),
        ];
        assert_eq!(
            check_acl(&cfg, &acl, perms::READ, &[Id::new("digest", "u:h")]),
            Ok(())
        );
        assert_eq!(
            check_acl(&cfg, &acl, perms::WRITE, &[Id::new("digest", "u:h")]),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            check_acl(&cfg, &acl, perms::WRITE, &[Id::new("ip", "10.9.9.9")]),
            Ok(())
        );
        assert_eq!(
            check_acl(&cfg, &acl, perms::ADMIN, &[Id::new("super", "")]),
            Ok(())
        );
        assert_eq!(check_acl(&cfg, &[], perms::ADMIN, &[]), Ok(()));
        assert_eq!(
            check_acl(&cfg, &read_acl_unsafe(), perms::READ, &[]),
            Ok(())
        );
        assert_eq!(
            check_acl(&cfg, &read_acl_unsafe(), perms::WRITE, &[]),
            Err(ErrorCode::NoAuth)
        );
        let skip = AuthConfig {
            skip_acl: true,
            ..Default::default()
        };
        assert_eq!(
            check_acl(&skip, &read_acl_unsafe(), perms::WRITE, &[]),
            Ok(())
        );
    }

    #[test]
    fn fixup_expands_auth_dedups_and_rejects_invalid_acls() {
        let me = vec![Id::new("ip", "1.2.3.4"), Id::new("digest", "u:h")];
        assert_eq!(
            fixup_acl(&creator_all_acl(), &me),
            Ok(vec![Acl::new(perms::ALL, "digest", "u:h")])
        );
        assert_eq!(
            fixup_acl(&creator_all_acl(), &[Id::new("ip", "1.2.3.4")]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(fixup_acl(&[], &me), Err(ErrorCode::InvalidAcl));
        let dup = vec![
            Acl::new(1, "world", "anyone"),
            Acl::new(1, "world", "anyone"),
        ];
        assert_eq!(fixup_acl(&dup, &[]).map(|a| a.len()), Ok(1));
        assert_eq!(
            fixup_acl(&[Acl::new(1, "world", "everyone")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[Acl::new(1, "digest", "nocolon")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[Acl::new(1, "ip", "1.2.3.4/40")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[Acl::new(1, "madeup", "x")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert!(fixup_acl(&[Acl::new(1, "ip", "::1/128")], &[]).is_ok());
    }

    #[test]
    fn redaction_hides_digest_hashes() {
        let acl = vec![
            Acl::new(31, "digest", "u:hash"),
            Acl::new(1, "world", "anyone"),
        ];
        let r = redact_digests(&acl);
        assert_eq!(r[0].id.id, "u:x");
        assert_eq!(r[1], acl[1]);
    }
}
