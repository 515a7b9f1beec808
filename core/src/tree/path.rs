//! Znode paths: ZooKeeper's `PathUtils.validatePath` (docs/protocol.md §7.6), parent/name splitting
//! and the `%010d` sequential suffix (§7.1).
//!
//! Validation lives in one place because ZooKeeper checks paths at several points of an
//! operation (a cheap "has a slash, no NUL" check first, the full check after the sequential
//! suffix is appended) and the order decides which error a client sees.

use alloc::format;
use alloc::string::String;

use super::error::ErrorCode;

/// `/zookeeper`, the system subtree.
pub const ZOOKEEPER_PATH: &str = "/zookeeper";
/// `/zookeeper/quota`.
pub const QUOTA_PATH: &str = "/zookeeper/quota";
/// `/zookeeper/config`, holding the ensemble's config text.
pub const CONFIG_PATH: &str = "/zookeeper/config";

/// True for a character ZooKeeper refuses in a path. ZooKeeper tests UTF-16 units, so every
/// character outside the Basic Multilingual Plane (a surrogate pair in Java) is refused too.
fn is_forbidden_char(c: char) -> bool {
    let u = c as u32;
    u <= 0x1F
        || (0x7F..=0x9F).contains(&u)
        || (0xD800..=0xF8FF).contains(&u)
        || (0xFFF0..=0xFFFF).contains(&u)
        || u > 0xFFFF
}

/// The full validation of §7.6; any violation is BadArguments (-8).
pub fn validate_path(path: &str) -> Result<(), ErrorCode> {
    if path.is_empty() || !path.starts_with('/') {
        return Err(ErrorCode::BadArguments);
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(ErrorCode::BadArguments);
    }
    if path.chars().any(is_forbidden_char) {
        return Err(ErrorCode::BadArguments);
    }
    for segment in path[1..].split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(ErrorCode::BadArguments);
        }
    }
    Ok(())
}

/// The cheap first check of create and delete (§5.9): a `/` somewhere and no NUL byte.
pub fn precheck_path(path: &str) -> Result<(), ErrorCode> {
    if !path.contains('/') || path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    Ok(())
}

/// The reads' check (§5.9): only a NUL byte is BadArguments; any other malformed path simply
/// names no node (NoNode).
pub fn validate_read_path(path: &str) -> Result<(), ErrorCode> {
    if path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    Ok(())
}

/// The parent of `path` (everything before the last `/`; `/` for a top-level node).
/// A path without `/` is its own parent's absence: `None`.
pub fn parent_of(path: &str) -> Option<&str> {
    let i = path.rfind('/')?;
    if path == "/" {
        return None;
    }
    Some(if i == 0 { "/" } else { &path[..i] })
}

/// The last segment of `path`.
pub fn name_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The sequential suffix: Java's `String.format("%010d", counter)`. The width includes the
/// sign, so -1 becomes `-000000001` (docs/protocol.md §7.1 gives that string).
pub fn sequence_suffix(counter: i32) -> String {
    format!("{counter:010}")
}

/// True for `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`, which cannot be
/// deleted (§7.5).
pub fn is_builtin(path: &str) -> bool {
    matches!(path, "/" | ZOOKEEPER_PATH | QUOTA_PATH | CONFIG_PATH)
}

/// True when `path` is `prefix` or lies below it (used by recursive watches).
pub fn is_at_or_below(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_validation_follows_path_utils() {
        for ok in ["/", "/a", "/a/b", "/a.b/..c", "/zookeeper", "/ü", "/a b"] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//a",
            "/a//b",
            "/.",
            "/a/..",
            "/a/./b",
            "/a\0b",
            "/a\u{1}",
            "/\u{7f}",
            "/\u{9f}",
            "/\u{e000}",
            "/\u{f8ff}",
            "/\u{fff0}",
            "/\u{1f600}",
        ] {
            assert_eq!(validate_path(bad), Err(ErrorCode::BadArguments), "{bad:?}");
        }
        assert_eq!(precheck_path("/queue/"), Ok(()));
        assert_eq!(precheck_path("abc"), Err(ErrorCode::BadArguments));
        assert_eq!(precheck_path("/a\0"), Err(ErrorCode::BadArguments));
    }

    #[test]
    fn parent_and_name_split_at_the_last_slash() {
        assert_eq!(parent_of("/a"), Some("/"));
        assert_eq!(parent_of("/a/b/c"), Some("/a/b"));
        assert_eq!(parent_of("/queue/"), Some("/queue"));
        assert_eq!(parent_of("/"), None);
        assert_eq!(parent_of("abc"), None);
        assert_eq!(name_of("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert!(is_at_or_below("/a/b", "/a"));
        assert!(!is_at_or_below("/ab", "/a"));
        assert!(is_at_or_below("/ab", "/"));
    }

    #[test]
    fn sequence_suffix_is_java_percent_010d_including_negatives() {
        assert_eq!(sequence_suffix(0), "0000000000");
        assert_eq!(sequence_suffix(42), "0000000042");
        assert_eq!(sequence_suffix(i32::MAX), "2147483647");
        assert_eq!(sequence_suffix(-1), "-000000001");
        assert_eq!(sequence_suffix(i32::MIN), "-2147483648");
    }
}
