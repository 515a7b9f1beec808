//! Jute, ZooKeeper's binary encoding (docs/protocol.md §1): big-endian integers, length-prefixed
//! buffers and strings (`-1` = null), vectors with a count. Readers work on byte slices and
//! never panic: running out of bytes is [`JuteError::Eof`] (a stream reader reads more and
//! tries again), anything else malformed is [`JuteError::Malformed`].

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JuteError {
    /// The input ended before the record did (read more bytes, or the record is truncated).
    Eof,
    /// The bytes cannot be a valid record.
    Malformed(String),
}

impl fmt::Display for JuteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JuteError::Eof => write!(f, "unexpected end of input"),
            JuteError::Malformed(m) => write!(f, "malformed record: {m}"),
        }
    }
}

impl std::error::Error for JuteError {}

pub fn malformed<T>(msg: impl Into<String>) -> Result<T, JuteError> {
    Err(JuteError::Malformed(msg.into()))
}

/// A cursor over a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Longest buffer or string accepted (`jute.maxbuffer` plus its extra size).
    max_len: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            max_len: usize::MAX,
        }
    }

    pub fn with_max_len(buf: &'a [u8], max_len: usize) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            max_len,
        }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], JuteError> {
        if self.remaining() < n {
            return Err(JuteError::Eof);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    pub fn u8(&mut self) -> Result<u8, JuteError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn bool(&mut self) -> Result<bool, JuteError> {
        Ok(self.u8()? != 0)
    }

    pub fn i32(&mut self) -> Result<i32, JuteError> {
        let b = self.bytes(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i64(&mut self) -> Result<i64, JuteError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn len_prefix(&mut self, what: &str) -> Result<Option<usize>, JuteError> {
        let n = self.i32()?;
        if n == -1 {
            return Ok(None);
        }
        if n < 0 || n as usize > self.max_len {
            return malformed(format!("{what} length {n} out of range"));
        }
        Ok(Some(n as usize))
    }

    /// A jute `buffer`; `None` is the null buffer (length -1).
    pub fn buffer(&mut self) -> Result<Option<&'a [u8]>, JuteError> {
        match self.len_prefix("buffer")? {
            None => Ok(None),
            Some(n) => Ok(Some(self.bytes(n)?)),
        }
    }

    /// A jute `ustring`; `None` is the null string.
    pub fn ustring(&mut self) -> Result<Option<String>, JuteError> {
        match self.len_prefix("string")? {
            None => Ok(None),
            Some(n) => {
                let b = self.bytes(n)?;
                match std::str::from_utf8(b) {
                    Ok(s) => Ok(Some(s.to_string())),
                    Err(_) => malformed("string is not UTF-8"),
                }
            }
        }
    }

    /// A vector count; `None` is the null vector. `min_elem_bytes` bounds the count by what the
    /// rest of the input could hold, so a hostile count cannot make us allocate.
    pub fn vec_count(&mut self, min_elem_bytes: usize) -> Result<Option<usize>, JuteError> {
        let n = self.i32()?;
        if n == -1 {
            return Ok(None);
        }
        if n < 0 {
            return malformed(format!("vector count {n}"));
        }
        let n = n as usize;
        if n.saturating_mul(min_elem_bytes.max(1)) > self.remaining() {
            // Might still arrive on a stream; a slice reader treats it as truncation.
            return Err(JuteError::Eof);
        }
        Ok(Some(n))
    }
}

pub fn put_i32(w: &mut Vec<u8>, v: i32) {
    w.extend_from_slice(&v.to_be_bytes());
}

pub fn put_i64(w: &mut Vec<u8>, v: i64) {
    w.extend_from_slice(&v.to_be_bytes());
}

pub fn put_bool(w: &mut Vec<u8>, v: bool) {
    w.push(v as u8);
}

pub fn put_buffer(w: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_i32(w, -1),
        Some(b) => {
            put_i32(w, b.len() as i32);
            w.extend_from_slice(b);
        }
    }
}

pub fn put_ustring(w: &mut Vec<u8>, s: Option<&str>) {
    put_buffer(w, s.map(str::as_bytes));
}

/// Adler-32 (RFC 1950), the checksum ZooKeeper puts on transaction-log records and snapshots.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 is the largest n with 255n(n+1)/2 + (n+1)(MOD-1) < 2^32.
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_matches_the_rfc_example() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
    }

    #[test]
    fn round_trip_and_errors() {
        let mut w = Vec::new();
        put_i32(&mut w, -5);
        put_i64(&mut w, 1 << 40);
        put_buffer(&mut w, None);
        put_ustring(&mut w, Some("héllo"));
        let mut r = Reader::new(&w);
        assert_eq!(r.i32(), Ok(-5));
        assert_eq!(r.i64(), Ok(1 << 40));
        assert_eq!(r.buffer(), Ok(None));
        assert_eq!(r.ustring(), Ok(Some("héllo".to_string())));
        assert_eq!(r.i32(), Err(JuteError::Eof));
        let bad = (-7i32).to_be_bytes();
        assert!(matches!(
            Reader::new(&bad).buffer(),
            Err(JuteError::Malformed(_))
        ));
        let big = 100i32.to_be_bytes();
        assert!(matches!(
            Reader::with_max_len(&big, 10).buffer(),
            Err(JuteError::Malformed(_))
        ));
    }
}
