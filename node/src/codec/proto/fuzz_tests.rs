//! Seeded fuzzing of every decoder: random bytes, truncations and single-byte mutations of
//! valid frames, and hostile length fields. Decoders must return (an error or a value), never
//! panic, and never allocate from a length field. Each test prints its seed.

use zablab_core::tree::DataTree;

use super::tests::{sample_requests, sample_responses};
use super::*;
use crate::codec::machine::NodeMachine;

/// xorshift64*: a tiny seeded generator, so a failure reproduces from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const ALL_OPCODES: [i32; 33] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101, 102,
    103, 104, 105, 106, 107, -10, -11, -1,
];

/// Runs every decoder on `b`; returns how many of them accepted it.
fn every_decoder(b: &[u8]) -> usize {
    let mut ok = 0;
    ok += decode_request(b).is_ok() as usize;
    ok += ConnectRequest::decode(b).is_ok() as usize;
    ok += ConnectResponse::decode(b).is_ok() as usize;
    ok += WatcherEvent::read(&mut reader(b)).is_ok() as usize;
    ok += read_stat(&mut reader(b)).is_ok() as usize;
    ok += read_acls(&mut reader(b)).is_ok() as usize;
    ok += read_strings(&mut reader(b)).is_ok() as usize;
    for op in ALL_OPCODES {
        ok += decode_reply(b, op).is_ok() as usize;
        ok += ClientRequest::read(op, &mut reader(b)).is_ok() as usize;
        ok += read_write_op(op, &mut reader(b), 0).is_ok() as usize;
        ok += DataTree::read_request(op, &mut crate::codec::jute::Reader::new(b)).is_ok() as usize;
        let mut r = crate::codec::jute::Reader::new(b);
        ok += crate::codec::txn::read_txn_body(op, &mut r, false).is_ok() as usize;
    }
    ok += DataTree::read_snapshot(&mut crate::codec::jute::Reader::new(b)).is_ok() as usize;
    ok
}

fn valid_frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (_, req) in sample_requests() {
        let mut f = Vec::new();
        encode_request(&mut f, 1, &req);
        out.push(f[4..].to_vec());
    }
    for (_, resp) in sample_responses() {
        let mut f = Vec::new();
        encode_reply(&mut f, 1, 2, Ok(&resp));
        out.push(f[4..].to_vec());
    }
    out
}

#[test]
fn random_bytes_never_panic() {
    let seed = 0x5eed_0001_u64;
    println!("seed {seed:#x}");
    let mut rng = Rng(seed);
    for _ in 0..3000 {
        let n = rng.below(200);
        let b = rng.bytes(n);
        every_decoder(&b);
    }
}

#[test]
fn every_truncation_of_a_valid_frame_is_an_error() {
    for (opcode, req) in sample_requests() {
        let mut f = Vec::new();
        encode_request(&mut f, 1, &req);
        let body = &f[4..];
        for cut in 0..body.len() {
            assert!(
                decode_request(&body[..cut]).is_err(),
                "opcode {opcode} cut {cut}"
            );
        }
    }
    for (opcode, resp) in sample_responses() {
        let mut f = Vec::new();
        encode_reply(&mut f, 1, 2, Ok(&resp));
        let body = &f[4..];
        for cut in 0..body.len() {
            assert!(
                decode_reply(&body[..cut], opcode).is_err(),
                "opcode {opcode} cut {cut}"
            );
        }
    }
    let cr = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 5,
        timeout_ms: 4000,
        session_id: 9,
        passwd: vec![7; 16],
        read_only: Some(false),
    };
    let mut f = Vec::new();
    cr.encode(&mut f);
    // Dropping only the readOnly byte leaves an old client's valid request.
    for cut in 0..f.len() - 5 {
        assert!(ConnectRequest::decode(&f[4..4 + cut]).is_err(), "cut {cut}");
    }
}

#[test]
fn mutated_frames_never_panic() {
    let seed = 0x5eed_0002_u64;
    println!("seed {seed:#x}");
    let mut rng = Rng(seed);
    let frames = valid_frames();
    for _ in 0..400 {
        let mut b = frames[rng.below(frames.len())].clone();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(b.len());
            b[i] = rng.next() as u8;
        }
        every_decoder(&b);
    }
}

#[test]
fn hostile_lengths_are_refused_without_allocating() {
    // Each length field set to i32::MAX or a negative other than -1, with nothing behind it.
    for len in [i32::MAX, 0x0fff_ffff, -2, i32::MIN] {
        let l = len.to_be_bytes();
        // exists with a huge path length.
        let mut b = vec![0, 0, 0, 1, 0, 0, 0, 3];
        b.extend(l);
        assert!(decode_request(&b).is_err());
        // getChildren reply with a huge vector count.
        let mut b = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend(l);
        assert!(decode_reply(&b, op::GET_CHILDREN).is_err());
        // setACL with a huge ACL count.
        let mut b = vec![0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 2, b'/', b'a'];
        b.extend(l);
        assert!(decode_request(&b).is_err());
        // A request record with a huge auth-id count, a CloseSessionTxn with a huge path
        // count, and a snapshot with a huge length.
        let mut b = vec![0; 12];
        b.extend(l);
        assert!(DataTree::read_request(1, &mut crate::codec::jute::Reader::new(&b)).is_err());
        let r = &mut crate::codec::jute::Reader::new(&l);
        assert!(crate::codec::txn::read_txn_body(-11, r, false).is_err());
        let mut b = vec![0x7f, 0xff, 0xff, 0xff];
        b.extend(l);
        assert!(DataTree::read_snapshot(&mut crate::codec::jute::Reader::new(&b)).is_err());
    }
}

#[test]
fn deeply_nested_multi_txns_are_refused() {
    // multi { multi { multi { ... } } } deeper than MAX_MULTI_DEPTH, with no terminators.
    let mut b = Vec::new();
    for _ in 0..64 {
        MultiHeader {
            op: op::MULTI,
            done: false,
            err: -1,
        }
        .put(&mut b);
    }
    assert!(read_write_op(op::MULTI, &mut reader(&b), 0).is_err());
}
