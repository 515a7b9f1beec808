//! ZooKeeper's error codes (`KeeperException.Code`, docs/protocol.md §5.7).
//!
//! Every operation on the tree answers either its result or one of these codes, with the same
//! numbers ZooKeeper puts in `ReplyHeader.err`, so the node's jute codec maps them one to one
//! and a student reading a capture sees the codes the Java server would send.

use core::fmt;

/// A ZooKeeper error code. `Ok` exists because multi results report `0` for the sub-ops that
/// ran before the failing one (§5.6).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ErrorCode {
    Ok,
    SystemError,
    RuntimeInconsistency,
    DataInconsistency,
    ConnectionLoss,
    MarshallingError,
    Unimplemented,
    OperationTimeout,
    BadArguments,
    UnknownSession,
    NewConfigNoQuorum,
    ReconfigInProgress,
    ApiError,
    NoNode,
    NoAuth,
    BadVersion,
    NoChildrenForEphemerals,
    NodeExists,
    NotEmpty,
    SessionExpired,
    InvalidCallback,
    InvalidAcl,
    AuthFailed,
    SessionMoved,
    NotReadOnly,
    EphemeralOnLocalSession,
    NoWatcher,
    RequestTimeout,
    ReconfigDisabled,
    SessionClosedRequireSaslAuth,
    QuotaExceeded,
    ThrottledOp,
}

/// Every code with its number, in §5.7's order.
const CODES: [(ErrorCode, i32); 32] = [
    (ErrorCode::Ok, 0),
    (ErrorCode::SystemError, -1),
    (ErrorCode::RuntimeInconsistency, -2),
    (ErrorCode::DataInconsistency, -3),
    (ErrorCode::ConnectionLoss, -4),
    (ErrorCode::MarshallingError, -5),
    (ErrorCode::Unimplemented, -6),
    (ErrorCode::OperationTimeout, -7),
    (ErrorCode::BadArguments, -8),
    (ErrorCode::UnknownSession, -12),
    (ErrorCode::NewConfigNoQuorum, -13),
    (ErrorCode::ReconfigInProgress, -14),
    (ErrorCode::ApiError, -100),
    (ErrorCode::NoNode, -101),
    (ErrorCode::NoAuth, -102),
    (ErrorCode::BadVersion, -103),
    (ErrorCode::NoChildrenForEphemerals, -108),
    (ErrorCode::NodeExists, -110),
    (ErrorCode::NotEmpty, -111),
    (ErrorCode::SessionExpired, -112),
    (ErrorCode::InvalidCallback, -113),
    (ErrorCode::InvalidAcl, -114),
    (ErrorCode::AuthFailed, -115),
    (ErrorCode::SessionMoved, -118),
    (ErrorCode::NotReadOnly, -119),
    (ErrorCode::EphemeralOnLocalSession, -120),
    (ErrorCode::NoWatcher, -121),
    (ErrorCode::RequestTimeout, -122),
    (ErrorCode::ReconfigDisabled, -123),
    (ErrorCode::SessionClosedRequireSaslAuth, -124),
    (ErrorCode::QuotaExceeded, -125),
    (ErrorCode::ThrottledOp, -127),
];

impl ErrorCode {
    /// The number ZooKeeper sends in `ReplyHeader.err`.
    pub fn code(self) -> i32 {
        CODES
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, n)| *n)
            .unwrap_or(-1)
    }

    /// The code for a number, or `None` for a number ZooKeeper does not define.
    pub fn from_code(n: i32) -> Option<ErrorCode> {
        CODES.iter().find(|(_, m)| *m == n).map(|(c, _)| *c)
    }

    /// Codes at or below -100 are API errors (the caller's fault); -1 to -99 are system errors.
    pub fn is_api_error(self) -> bool {
        self.code() <= -100
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self, self.code())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_have_zookeepers_numbers_and_round_trip() {
        assert_eq!(ErrorCode::NoNode.code(), -101);
        assert_eq!(ErrorCode::NoWatcher.code(), -121);
        assert_eq!(ErrorCode::ThrottledOp.code(), -127);
        assert_eq!(ErrorCode::BadArguments.code(), -8);
        for (c, n) in CODES {
            assert_eq!(c.code(), n);
            assert_eq!(ErrorCode::from_code(n), Some(c));
        }
        assert_eq!(ErrorCode::from_code(-9), None);
        assert!(ErrorCode::NoAuth.is_api_error());
        assert!(!ErrorCode::MarshallingError.is_api_error());
    }
}
