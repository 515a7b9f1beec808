//! Znode metadata: what the tree stores (`StatPersisted`) and what clients see (`Stat`,
//! docs/protocol.md §5.5), create modes (§5.4) and the `ephemeralOwner` encoding (§7.2).
//!
//! The two stat shapes differ on purpose, as in ZooKeeper: the stored cversion counts only
//! child creates (it names sequential children), while the reported one is
//! `2 * stored - numChildren`; the stored ephemeral owner marks containers and TTL nodes, which
//! clients see as 0.

use super::error::ErrorCode;
use crate::zxid::Zxid;

/// The `ephemeralOwner` marker of a container node (`Long.MIN_VALUE`).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// The largest TTL in milliseconds (40 bits).
pub const MAX_TTL_MS: i64 = 0x0000_00FF_FFFF_FFFF;
const TTL_MARKER: i64 = 0xFF << 56;

/// `CreateMode`, by its wire flag (§5.4).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CreateMode {
    Persistent,
    Ephemeral,
    PersistentSequential,
    EphemeralSequential,
    Container,
    PersistentWithTtl,
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// The mode for a wire flag; anything outside 0–6 is BadArguments.
    pub fn from_flag(flag: i32) -> Result<CreateMode, ErrorCode> {
        Ok(match flag {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => return Err(ErrorCode::BadArguments),
        })
    }

    pub fn flag(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }

    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

/// What kind of node an `ephemeralOwner` value marks (§7.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EphemeralKind {
    Persistent,
    /// A normal ephemeral owned by this session.
    Session(i64),
    Container,
    Ttl(i64),
}

/// Decodes a stored owner. TTL markers are recognised only with extended types enabled;
/// otherwise such a value is an (odd, negative) session id, as in ZooKeeper.
pub fn ephemeral_kind(owner: i64, extended_types: bool) -> EphemeralKind {
    if owner == 0 {
        EphemeralKind::Persistent
    } else if owner == CONTAINER_OWNER {
        EphemeralKind::Container
    } else if extended_types && (owner & (0xFFFF_i64 << 48)) == TTL_MARKER {
        EphemeralKind::Ttl(owner & MAX_TTL_MS)
    } else {
        EphemeralKind::Session(owner)
    }
}

/// The stored owner of a TTL node.
pub fn ttl_owner(ttl_ms: i64) -> i64 {
    TTL_MARKER | (ttl_ms & MAX_TTL_MS)
}

/// The version after an update: Java int overflow, then -1 is skipped (ZOOKEEPER-4743, §5.5).
pub fn next_version(v: i32) -> i32 {
    match v.wrapping_add(1) {
        -1 => 0,
        n => n,
    }
}

/// The stat as the tree stores it (ZooKeeper's `StatPersisted`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StatPersisted {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    /// Child *creates* only; see the module doc.
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

impl StatPersisted {
    /// A node created at `zxid` and `time_ms`.
    pub fn created(zxid: Zxid, time_ms: i64, ephemeral_owner: i64) -> StatPersisted {
        let z = zxid.0 as i64;
        StatPersisted {
            czxid: z,
            mzxid: z,
            ctime: time_ms,
            mtime: time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: z,
        }
    }

    /// The client's view (§5.5).
    pub fn to_stat(&self, data_length: i32, num_children: i32, extended_types: bool) -> Stat {
        let ephemeral_owner = match ephemeral_kind(self.ephemeral_owner, extended_types) {
            EphemeralKind::Session(s) => s,
            _ => 0,
        };
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner,
            data_length,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

/// ZooKeeper's `Stat`, field for field in wire order (68 bytes in jute).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_flags_zero_to_six_and_nothing_else() {
        for f in 0..=6 {
            assert_eq!(CreateMode::from_flag(f).map(CreateMode::flag), Ok(f));
        }
        assert_eq!(CreateMode::from_flag(7), Err(ErrorCode::BadArguments));
        assert_eq!(CreateMode::from_flag(-1), Err(ErrorCode::BadArguments));
    }

    #[test]
    fn ephemeral_owner_encoding_hides_container_and_ttl() {
        assert_eq!(ephemeral_kind(0, true), EphemeralKind::Persistent);
        assert_eq!(
            ephemeral_kind(CONTAINER_OWNER, true),
            EphemeralKind::Container
        );
        assert_eq!(
            ephemeral_kind(ttl_owner(5000), true),
            EphemeralKind::Ttl(5000)
        );
        assert!(matches!(
            ephemeral_kind(ttl_owner(5000), false),
            EphemeralKind::Session(_)
        ));
        assert_eq!(
            ephemeral_kind(0x0100_0000_0000_0001, true),
            EphemeralKind::Session(0x0100_0000_0000_0001)
        );
        let st = StatPersisted {
            ephemeral_owner: ttl_owner(9),
            ..Default::default()
        };
        assert_eq!(st.to_stat(0, 0, true).ephemeral_owner, 0);
        let st = StatPersisted {
            ephemeral_owner: CONTAINER_OWNER,
            ..Default::default()
        };
        assert_eq!(st.to_stat(0, 0, true).ephemeral_owner, 0);
    }

    #[test]
    fn reported_cversion_is_twice_persisted_minus_children() {
        let st = StatPersisted {
            cversion: 3,
            ..Default::default()
        };
        assert_eq!(st.to_stat(0, 1, true).cversion, 5);
        let builtin = StatPersisted::default();
        assert_eq!(builtin.to_stat(0, 2, true).cversion, -2);
    }

    #[test]
    fn version_wraps_to_min_and_skips_minus_one() {
        assert_eq!(next_version(0), 1);
        assert_eq!(next_version(i32::MAX), i32::MIN);
        assert_eq!(next_version(-2), 0);
    }
}
