//! The small jute records every opcode shares (§5.4, §5.5): `Stat`, `Id`, `ACL`, strings,
//! buffers and string vectors.

use zablab_core::tree::{Acl, Id, Stat};

use crate::codec::jute::{put_buffer, put_i32, put_i64, put_ustring, JuteError, Reader};

/// `Stat` is 68 bytes on the wire.
pub const STAT_BYTES: usize = 68;

pub fn put_stat(out: &mut Vec<u8>, s: &Stat) {
    put_i64(out, s.czxid);
    put_i64(out, s.mzxid);
    put_i64(out, s.ctime);
    put_i64(out, s.mtime);
    put_i32(out, s.version);
    put_i32(out, s.cversion);
    put_i32(out, s.aversion);
    put_i64(out, s.ephemeral_owner);
    put_i32(out, s.data_length);
    put_i32(out, s.num_children);
    put_i64(out, s.pzxid);
}

pub fn read_stat(r: &mut Reader<'_>) -> Result<Stat, JuteError> {
    Ok(Stat {
        czxid: r.i64()?,
        mzxid: r.i64()?,
        ctime: r.i64()?,
        mtime: r.i64()?,
        version: r.i32()?,
        cversion: r.i32()?,
        aversion: r.i32()?,
        ephemeral_owner: r.i64()?,
        data_length: r.i32()?,
        num_children: r.i32()?,
        pzxid: r.i64()?,
    })
}

/// A `ustring` where ZooKeeper never sends null (paths, schemes): null reads as "".
pub(crate) fn read_str(r: &mut Reader<'_>) -> Result<String, JuteError> {
    Ok(r.ustring()?.unwrap_or_default())
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_ustring(out, Some(s));
}

/// A `buffer`, null kept distinct from empty.
pub(crate) fn read_data(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>, JuteError> {
    Ok(r.buffer()?.map(<[u8]>::to_vec))
}

pub(crate) fn put_data(out: &mut Vec<u8>, d: &Option<Vec<u8>>) {
    put_buffer(out, d.as_deref());
}

pub fn put_id(out: &mut Vec<u8>, id: &Id) {
    put_str(out, &id.scheme);
    put_str(out, &id.id);
}

pub fn read_id(r: &mut Reader<'_>) -> Result<Id, JuteError> {
    Ok(Id {
        scheme: read_str(r)?,
        id: read_str(r)?,
    })
}

/// `[ACL]`; a null vector reads as empty (the tree answers InvalidACL for both).
pub fn put_acls(out: &mut Vec<u8>, acl: &[Acl]) {
    put_i32(out, acl.len() as i32);
    for a in acl {
        put_i32(out, a.perms);
        put_id(out, &a.id);
    }
}

pub fn read_acls(r: &mut Reader<'_>) -> Result<Vec<Acl>, JuteError> {
    // perms + two string lengths: at least 12 bytes per entry.
    let n = r.vec_count(12)?.unwrap_or(0);
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let perms = r.i32()?;
        let id = read_id(r)?;
        v.push(Acl { perms, id });
    }
    Ok(v)
}

/// `[Id]` (the auth ids inside our txn records).
pub fn put_ids(out: &mut Vec<u8>, ids: &[Id]) {
    put_i32(out, ids.len() as i32);
    for id in ids {
        put_id(out, id);
    }
}

pub fn read_ids(r: &mut Reader<'_>) -> Result<Vec<Id>, JuteError> {
    let n = r.vec_count(8)?.unwrap_or(0);
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(read_id(r)?);
    }
    Ok(v)
}

/// `[ustring]`; a null vector reads as empty.
pub fn put_strings(out: &mut Vec<u8>, v: &[String]) {
    put_i32(out, v.len() as i32);
    for s in v {
        put_str(out, s);
    }
}

pub fn read_strings(r: &mut Reader<'_>) -> Result<Vec<String>, JuteError> {
    let n = r.vec_count(4)?.unwrap_or(0);
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(read_str(r)?);
    }
    Ok(v)
}
