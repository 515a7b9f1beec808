//! The nemesis: one fault at a time, then a heal, then a wait until the ensemble has recovered
//! (every server serving, one leader, every follower caught up), so at most one server's
//! durable state is ever damaged at once (the fault model ZAB tolerates). The kinds come in
//! seeded shuffled rounds, so a short run still sees each kind.
//!
//! | kind | what |
//! |---|---|
//! | `kill-random` | kill -9 a random server, restart it 1–3 s later |
//! | `kill-leader` | kill -9 the leader (from `srvr`), restart it 1–3 s later |
//! | `pause` | SIGSTOP a random server (the leader half of the time) for 2–5 s, then SIGCONT |
//! | `isolate-leader` | fault hook: cut the leader from every other server (both ways) for 3–6 s |
//! | `split` | fault hook: cut a random minority from the majority (both ways) for 3–6 s |
//! | `one-way` | fault hook: drop leader→follower or follower→leader only, for 3–6 s |
//! | `corrupt-tail` | kill -9 a server, tear its log's last record (cut mid-record, or flip bytes in it), restart; its restart must report the torn tail |

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use tokio::time::{sleep, Instant};

use super::ensemble::Ensemble;
use super::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    KillRandom,
    KillLeader,
    Pause,
    IsolateLeader,
    Split,
    OneWay,
    CorruptTail,
}

pub const ALL: [Fault; 7] = [
    Fault::KillRandom,
    Fault::KillLeader,
    Fault::Pause,
    Fault::IsolateLeader,
    Fault::Split,
    Fault::OneWay,
    Fault::CorruptTail,
];

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillRandom => "kill-random",
            Fault::KillLeader => "kill-leader",
            Fault::Pause => "pause",
            Fault::IsolateLeader => "isolate-leader",
            Fault::Split => "split",
            Fault::OneWay => "one-way",
            Fault::CorruptTail => "corrupt-tail",
        }
    }
}

/// What the nemesis did.
#[derive(Clone, Debug, Default)]
pub struct NemesisReport {
    pub injected: BTreeMap<Fault, u64>,
    /// Faults that needed a leader when there was none (skipped).
    pub skipped: u64,
    /// Torn tails written, and how many of those the restarted server reported.
    pub corrupted: u64,
    pub corruption_detected: u64,
    /// Times the ensemble did not recover within the limit after a fault (liveness, not safety).
    pub not_recovered: u64,
    /// Harness errors (a server that could not be restarted, a hook that did not answer).
    pub errors: Vec<String>,
}

/// Fault hook lines that cut `a` from `b` in the given directions: (server, line) pairs.
fn cut_lines(e: &Ensemble, a: usize, b: usize, a_to_b: bool, b_to_a: bool) -> Vec<(usize, String)> {
    let (sa, sb) = (e.sid(a), e.sid(b));
    let mut v = Vec::new();
    match (a_to_b, b_to_a) {
        (true, true) => {
            v.push((a, format!("cut {sb} both")));
            v.push((b, format!("cut {sa} both")));
        }
        (true, false) => {
            v.push((a, format!("cut {sb} out")));
            v.push((b, format!("cut {sa} in")));
        }
        (false, true) => {
            v.push((a, format!("cut {sb} in")));
            v.push((b, format!("cut {sa} out")));
        }
        (false, false) => {}
    }
    v
}

/// The start and end of the last whole-looking record of a log file (header 16 bytes; records
/// `i64 checksum, i32 len, len bytes, 0x42`), or None when it holds none.
fn last_record(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut at = 16usize;
    let mut last = None;
    while at + 12 <= bytes.len() {
        let len = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().ok()?);
        if len <= 0 {
            break;
        }
        let end = at + 12 + len as usize + 1;
        if end > bytes.len() {
            break;
        }
        last = Some((at, end));
        at = end;
    }
    last
}

/// Tears the last record of the newest log file in `dir`: truncates it mid-record or flips
/// 1–4 bytes inside it. Returns a description, or None when there is no record to tear.
fn corrupt_tail(dir: &Path, rng: &mut Rng) -> std::io::Result<Option<String>> {
    let mut logs: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let z = u64::from_str_radix(name.strip_prefix("log.")?, 16).ok()?;
            Some((z, e.path()))
        })
        .collect();
    logs.sort();
    let Some((_, path)) = logs.pop() else {
        return Ok(None);
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let Some((start, end)) = last_record(&bytes) else {
        return Ok(None);
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("log");
    if rng.below(2) == 0 {
        let cut = start + 1 + rng.below((end - start - 1) as u64) as usize;
        f.set_len(cut as u64)?;
        f.sync_all()?;
        Ok(Some(format!(
            "{name}: truncated to {cut} bytes (last record {start}..{end})"
        )))
    } else {
        let n = 1 + rng.below(4) as usize;
        let at = start + rng.below((end - start) as u64) as usize;
        let at = at.min(end - n.min(end - start));
        let flipped: Vec<u8> = bytes[at..at + n].iter().map(|b| b ^ 0xFF).collect();
        f.seek(SeekFrom::Start(at as u64))?;
        f.write_all(&flipped)?;
        f.sync_all()?;
        Ok(Some(format!(
            "{name}: flipped {n} bytes at {at} (last record {start}..{end})"
        )))
    }
}

async fn secs(rng: &mut Rng, lo_ms: u64, hi_ms: u64) {
    sleep(Duration::from_millis(lo_ms + rng.below(hi_ms - lo_ms + 1))).await;
}

/// Waits up to 10 s for server `i`'s log (from byte `from` on) to report a torn tail.
async fn torn_tail_reported(e: &Ensemble, i: usize, from: u64) -> bool {
    for _ in 0..100 {
        if let Ok(text) = std::fs::read(e.log_path(i)) {
            let new = &text[(from as usize).min(text.len())..];
            if String::from_utf8_lossy(new).contains("corrupt or torn log tail") {
                return true;
            }
        }
        sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Runs faults until `until`, printing one line per fault. Returns the ensemble healed (every
/// server running and unpaused, no cuts).
pub async fn run(
    mut e: Ensemble,
    rng: &mut Rng,
    start: Instant,
    until: Instant,
) -> (Ensemble, NemesisReport) {
    let mut r = NemesisReport::default();
    let mut round: Vec<Fault> = Vec::new();
    let n = e.len();
    let t = |start: Instant| start.elapsed().as_secs_f64();
    loop {
        if !e.wait_recovered(Duration::from_secs(30)).await {
            r.not_recovered += 1;
            println!("[{:7.1}s] nemesis: not recovered within 30 s", t(start));
        }
        secs(rng, 1000, 3000).await;
        if Instant::now() + Duration::from_secs(6) >= until {
            break;
        }
        if round.is_empty() {
            round = ALL.to_vec();
            rng.shuffle(&mut round);
        }
        let Some(fault) = round.pop() else { break };
        let leader = e.leader().await;
        let needs_leader = matches!(
            fault,
            Fault::KillLeader | Fault::IsolateLeader | Fault::OneWay
        );
        if needs_leader && leader.is_none() {
            r.skipped += 1;
            continue;
        }
        let l = leader.unwrap_or(0);
        let what = match fault {
            Fault::KillRandom | Fault::KillLeader => {
                let i = if fault == Fault::KillLeader {
                    l
                } else {
                    rng.below(n as u64) as usize
                };
                e.kill9(i);
                secs(rng, 1000, 3000).await;
                if let Err(err) = e.spawn(i) {
                    r.errors.push(format!("restart server {}: {err}", e.sid(i)));
                }
                format!("server {}", e.sid(i))
            }
            Fault::Pause => {
                let i = if rng.below(2) == 0 {
                    l
                } else {
                    rng.below(n as u64) as usize
                };
                e.pause(i);
                secs(rng, 2000, 5000).await;
                e.resume(i);
                format!("server {}", e.sid(i))
            }
            Fault::IsolateLeader | Fault::Split | Fault::OneWay => {
                let mut lines = Vec::new();
                let what = match fault {
                    Fault::IsolateLeader => {
                        for j in (0..n).filter(|&j| j != l) {
                            lines.extend(cut_lines(&e, l, j, true, true));
                        }
                        format!("leader {} from all", e.sid(l))
                    }
                    Fault::Split => {
                        let mut idx: Vec<usize> = (0..n).collect();
                        rng.shuffle(&mut idx);
                        let m = 1 + rng.below(((n - 1) / 2).max(1) as u64) as usize;
                        let (minority, majority) = idx.split_at(m);
                        for &a in minority {
                            for &b in majority {
                                lines.extend(cut_lines(&e, a, b, true, true));
                            }
                        }
                        let sids = |v: &[usize]| {
                            v.iter()
                                .map(|&i| e.sid(i).to_string())
                                .collect::<Vec<_>>()
                                .join(",")
                        };
                        format!("{{{}}} | {{{}}}", sids(minority), sids(majority))
                    }
                    _ => {
                        let followers: Vec<usize> = (0..n).filter(|&j| j != l).collect();
                        let f = followers[rng.below(followers.len() as u64) as usize];
                        if rng.below(2) == 0 {
                            lines.extend(cut_lines(&e, l, f, true, false));
                            format!("{} -> {} dropped", e.sid(l), e.sid(f))
                        } else {
                            lines.extend(cut_lines(&e, f, l, true, false));
                            format!("{} -> {} dropped", e.sid(f), e.sid(l))
                        }
                    }
                };
                for (i, line) in &lines {
                    match e.hook(*i, line).await {
                        Ok(a) if a == "ok" => {}
                        Ok(a) => r.errors.push(format!("hook {}: {line}: {a}", e.sid(*i))),
                        Err(err) => r.errors.push(format!("hook {}: {line}: {err}", e.sid(*i))),
                    }
                }
                secs(rng, 3000, 6000).await;
                e.heal_all().await;
                what
            }
            Fault::CorruptTail => {
                let i = rng.below(n as u64) as usize;
                e.kill9(i);
                let what = match corrupt_tail(&e.log_dir(i), rng) {
                    Ok(Some(d)) => {
                        r.corrupted += 1;
                        Some(d)
                    }
                    Ok(None) => None,
                    Err(err) => {
                        r.errors.push(format!("corrupt server {}: {err}", e.sid(i)));
                        None
                    }
                };
                let from = std::fs::metadata(e.log_path(i)).map_or(0, |m| m.len());
                if let Err(err) = e.spawn(i) {
                    r.errors.push(format!("restart server {}: {err}", e.sid(i)));
                }
                match what {
                    Some(d) => {
                        let seen = torn_tail_reported(&e, i, from).await;
                        if seen {
                            r.corruption_detected += 1;
                        }
                        format!(
                            "server {}: {d}; {}",
                            e.sid(i),
                            if seen {
                                "restart reported the torn tail"
                            } else {
                                "restart did NOT report it"
                            }
                        )
                    }
                    None => format!("server {}: no record to tear (restarted)", e.sid(i)),
                }
            }
        };
        *r.injected.entry(fault).or_default() += 1;
        println!("[{:7.1}s] nemesis: {} {what}", t(start), fault.name());
    }
    e.heal_all().await;
    if let Err(err) = e.restore_all() {
        r.errors.push(format!("restore: {err}"));
    }
    (e, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_record_finds_the_final_record_and_ignores_a_partial_one() {
        let mut b = vec![0u8; 16];
        for len in [3i32, 5] {
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&len.to_be_bytes());
            b.extend(std::iter::repeat_n(7, len as usize));
            b.push(0x42);
        }
        assert_eq!(last_record(&b), Some((16 + 16, 16 + 16 + 18)));
        b.extend_from_slice(&[0; 6]); // a partial header
        assert_eq!(last_record(&b), Some((32, 50)));
        assert_eq!(last_record(&[0u8; 16]), None);
    }
}
