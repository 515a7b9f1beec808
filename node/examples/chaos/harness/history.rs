//! The history of a chaos run: one [`Event`] per invocation and per completion, in the order
//! they happened (recorded under one lock, so the order respects real time: an invocation is
//! recorded before its request is sent, a completion after its answer arrived), written in
//! Jepsen's history format (EDN maps, one per line) so Knossos and Elle can read it too.
//!
//! * `registers.edn`: the register ops as `jepsen.independent` tuples, `:value [key v]`:
//!   `:read` (v = the value read, `nil` on invoke), `:write` (v = the value written), `:cas`
//!   (v = `[old new]`). Knossos' `cas-register` model checks each key as it is.
//! * `set.edn`: the sequential creates as Jepsen's set workload: `:add` with the request id,
//!   then one final `:read` of every id found in a sequential node at the end.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// Jepsen's op types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Invoke,
    /// Done and its effect (if any) happened.
    Ok,
    /// Definitely did not take effect (a read that failed; a CAS that got BadVersion).
    Fail,
    /// Indeterminate (timeout, lost connection): may or may not take effect, at any later time.
    Info,
}

impl Kind {
    fn edn(self) -> &'static str {
        match self {
            Kind::Invoke => ":invoke",
            Kind::Ok => ":ok",
            Kind::Fail => ":fail",
            Kind::Info => ":info",
        }
    }
}

/// An operation on one register. Values written are unique across the run and never 0 (the
/// value a register starts with), which makes a version-CAS equal to a value-CAS (see
/// `check.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegOp {
    /// sync, then getData. The value read is in the completion.
    Read,
    /// setData with version -1.
    Write(u64),
    /// setData with the version of the client's last read, which had returned `old`.
    Cas { old: u64, new: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Register {
        key: u64,
        op: RegOp,
        /// The value read (read completions only).
        read: Option<u64>,
    },
    /// create `/chaos/g<n>/c-` (persistent sequential) with `id` as data; the path when
    /// acknowledged.
    Create { id: u64, path: Option<String> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Jepsen's process: a client, renumbered after an `Info` (its op may still be running).
    pub process: u64,
    pub kind: Kind,
    pub op: Op,
    /// Nanoseconds since the run started.
    pub time_ns: u64,
}

/// The recorder shared by the clients.
pub struct History {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl History {
    pub fn new() -> History {
        History {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Appends an event stamped with the time now (under the lock, so times are ordered).
    pub fn record(&self, process: u64, kind: Kind, op: Op) {
        if let Ok(mut ev) = self.events.lock() {
            let time_ns = self.start.elapsed().as_nanos() as u64;
            ev.push(Event {
                process,
                kind,
                op,
                time_ns,
            });
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

fn reg_value(key: u64, op: RegOp, read: Option<u64>, kind: Kind) -> String {
    let v = match (op, kind) {
        (RegOp::Read, _) => read.map_or("nil".to_string(), |v| v.to_string()),
        (RegOp::Write(v), _) => v.to_string(),
        (RegOp::Cas { old, new }, _) => format!("[{old} {new}]"),
    };
    format!("[{key} {v}]")
}

fn f_name(op: RegOp) -> &'static str {
    match op {
        RegOp::Read => ":read",
        RegOp::Write(_) => ":write",
        RegOp::Cas { .. } => ":cas",
    }
}

/// The register ops in Jepsen's EDN history format, one map per line.
pub fn registers_edn(events: &[Event]) -> String {
    let mut s = String::new();
    for e in events {
        if let Op::Register { key, op, read } = &e.op {
            let _ = writeln!(
                s,
                "{{:process {}, :type {}, :f {}, :value {}, :time {}}}",
                e.process,
                e.kind.edn(),
                f_name(*op),
                reg_value(*key, *op, *read, e.kind),
                e.time_ns
            );
        }
    }
    s
}

/// The sequential creates as Jepsen's set workload, then a final read of `found` ids.
pub fn set_edn(events: &[Event], found: &[u64], end_ns: u64) -> String {
    let mut s = String::new();
    for e in events {
        if let Op::Create { id, .. } = &e.op {
            let _ = writeln!(
                s,
                "{{:process {}, :type {}, :f :add, :value {id}, :time {}}}",
                e.process,
                e.kind.edn(),
                e.time_ns
            );
        }
    }
    let ids: Vec<String> = found.iter().map(u64::to_string).collect();
    let _ = writeln!(
        s,
        "{{:process :final, :type :invoke, :f :read, :value nil, :time {end_ns}}}"
    );
    let _ = writeln!(
        s,
        "{{:process :final, :type :ok, :f :read, :value #{{{}}}, :time {end_ns}}}",
        ids.join(" ")
    );
    s
}

/// Reads back the register events of a `registers.edn` written by [`registers_edn`] (to check
/// a kept history again: `chaos --check DIR`). Lines that are not register ops are an error.
pub fn parse_registers_edn(text: &str) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || format!("line {}: not a register op: {line}", n + 1);
        let field = |name: &str| -> Option<&str> {
            let at = line.find(name)? + name.len();
            let rest = &line[at..];
            if rest.starts_with('[') {
                // The value tuple, up to its matching bracket.
                let mut depth = 0;
                for (i, ch) in rest.char_indices() {
                    match ch {
                        '[' => depth += 1,
                        ']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(&rest[..=i]);
                            }
                        }
                        _ => {}
                    }
                }
                None
            } else {
                rest.split([',', '}']).next().map(str::trim)
            }
        };
        let num = |s: &str| s.trim().parse::<u64>().ok();
        let process = field(":process ").and_then(num).ok_or_else(bad)?;
        let kind = match field(":type ").ok_or_else(bad)? {
            ":invoke" => Kind::Invoke,
            ":ok" => Kind::Ok,
            ":fail" => Kind::Fail,
            ":info" => Kind::Info,
            _ => return Err(bad()),
        };
        let time_ns = field(":time ").and_then(num).ok_or_else(bad)?;
        let value = field(":value ").ok_or_else(bad)?;
        let inner = value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .ok_or_else(bad)?;
        let (key, v) = inner.split_once(' ').ok_or_else(bad)?;
        let key = num(key).ok_or_else(bad)?;
        let (op, read) = match field(":f ").ok_or_else(bad)? {
            ":read" => (RegOp::Read, num(v)),
            ":write" => (RegOp::Write(num(v).ok_or_else(bad)?), None),
            ":cas" => {
                let pair = v
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .ok_or_else(bad)?;
                let (a, b) = pair.split_once(' ').ok_or_else(bad)?;
                let (old, new) = (num(a).ok_or_else(bad)?, num(b).ok_or_else(bad)?);
                (RegOp::Cas { old, new }, None)
            }
            _ => return Err(bad()),
        };
        out.push(Event {
            process,
            kind,
            op: Op::Register { key, op, read },
            time_ns,
        });
    }
    Ok(out)
}

/// Writes both files into `dir`.
pub fn write_files(dir: &Path, events: &[Event], found: &[u64]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let end = events.last().map_or(0, |e| e.time_ns);
    std::fs::write(dir.join("registers.edn"), registers_edn(events))?;
    std::fs::write(dir.join("set.edn"), set_edn(events, found, end))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edn_lines_are_jepsen_maps_with_independent_tuples() {
        let ev = |process, kind, op, read| Event {
            process,
            kind,
            op: Op::Register { key: 7, op, read },
            time_ns: 5,
        };
        let events = vec![
            ev(1, Kind::Invoke, RegOp::Cas { old: 3, new: 4 }, None),
            ev(1, Kind::Fail, RegOp::Cas { old: 3, new: 4 }, None),
            ev(2, Kind::Invoke, RegOp::Read, None),
            ev(2, Kind::Ok, RegOp::Read, Some(9)),
        ];
        assert_eq!(
            parse_registers_edn(&registers_edn(&events)),
            Ok(events.clone())
        );
        assert_eq!(
            registers_edn(&events),
            "{:process 1, :type :invoke, :f :cas, :value [7 [3 4]], :time 5}\n\
             {:process 1, :type :fail, :f :cas, :value [7 [3 4]], :time 5}\n\
             {:process 2, :type :invoke, :f :read, :value [7 nil], :time 5}\n\
             {:process 2, :type :ok, :f :read, :value [7 9], :time 5}\n"
        );
        let set = set_edn(
            &[Event {
                process: 3,
                kind: Kind::Info,
                op: Op::Create { id: 11, path: None },
                time_ns: 8,
            }],
            &[11, 12],
            9,
        );
        assert!(set.starts_with("{:process 3, :type :info, :f :add, :value 11, :time 8}\n"));
        assert!(set.ends_with(":f :read, :value #{11 12}, :time 9}\n"));
    }
}
