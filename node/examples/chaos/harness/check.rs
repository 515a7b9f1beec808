//! The consistency checks of the register history, done by `stateright`'s testers (crate
//! `stateright`, module `semantics`) against [`CasRegister`], key by key (linearizability is
//! compositional: a history is linearizable iff each object's sub-history is; the run
//! rotates to fresh keys every few dozen ops, as `jepsen.independent` does, so each key's
//! search stays small).
//!
//! | check | ops | model | tester |
//! |---|---|---|---|
//! | [`Model::WritesLinearizable`] | setData (write), setData-with-version (CAS, its BadVersion failures included) | linearizable | `LinearizabilityTester` |
//! | [`Model::AllSequential`] | writes, CAS and reads (sync + getData) | sequentially consistent (per-process order, one total order) | implied by a pass of the next row; else `SequentialConsistencyTester` (see [`check_history`]) |
//! | [`Model::AllLinearizable`] | writes, CAS and reads | linearizable: reported, not a violation (ZooKeeper does not promise it, even after sync) | `LinearizabilityTester` |
//!
//! How ops enter the testers: `ok` ops with their return; a CAS `fail` (BadVersion) as a
//! return `CasFailed`, so a CAS that failed although the value matched is caught; a read
//! `fail` is left out (a read has no effect); an `info` op is invoked and never returns, so
//! the tester may place it anywhere after its invocation, or nowhere.
//!
//! Version-CAS as value-CAS: every successful setData adds one to the version and writes a
//! value never written before (0 is only the initial value), so "the version is still the one
//! my read saw" holds exactly when "the value is still the one my read saw". The model is a
//! plain value register with compare-and-set, as Knossos' `cas-register`.

use std::collections::BTreeMap;

use stateright::semantics::{
    ConsistencyTester, LinearizabilityTester, SequentialConsistencyTester, SequentialSpec,
};

use super::history::{Event, Kind, Op, RegOp};

/// A register holding a u64, starting at 0, with read, write and compare-and-set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CasRegister(pub u64);

#[derive(Clone, Debug, PartialEq)]
pub enum RegRet {
    ReadOk(u64),
    WriteOk,
    CasOk,
    CasFailed,
}

impl SequentialSpec for CasRegister {
    type Op = RegOp;
    type Ret = RegRet;
    fn invoke(&mut self, op: &RegOp) -> RegRet {
        match *op {
            RegOp::Read => RegRet::ReadOk(self.0),
            RegOp::Write(v) => {
                self.0 = v;
                RegRet::WriteOk
            }
            RegOp::Cas { old, new } if self.0 == old => {
                self.0 = new;
                RegRet::CasOk
            }
            RegOp::Cas { .. } => RegRet::CasFailed,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    WritesLinearizable,
    AllSequential,
    AllLinearizable,
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::WritesLinearizable => "writes+CAS linearizable",
            Model::AllSequential => "writes+CAS+reads sequentially consistent",
            Model::AllLinearizable => "writes+CAS+reads linearizable (not promised by ZooKeeper)",
        }
    }
}

/// What happened to one register op, from its events.
#[derive(Clone, Debug)]
struct Done {
    kind: Kind,
    read: Option<u64>,
}

/// The events of each key, in recorded order.
pub fn by_key(events: &[Event]) -> BTreeMap<u64, Vec<Event>> {
    let mut m: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    for e in events {
        if let Op::Register { key, .. } = e.op {
            m.entry(key).or_default().push(e.clone());
        }
    }
    m
}

/// Feeds one key's events to a tester under `model`; `Err` when the history itself is
/// malformed (two ops in flight in one process).
fn feed<T: ConsistencyTester<u64, CasRegister>>(
    tester: &mut T,
    events: &[Event],
    model: Model,
) -> Result<(), String> {
    // First pass: the completion of each invocation (by position).
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    let mut done: BTreeMap<usize, Done> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let Op::Register { read, .. } = e.op else {
            continue;
        };
        if e.kind == Kind::Invoke {
            if pending.insert(e.process, i).is_some() {
                return Err(format!("process {} has two ops in flight", e.process));
            }
        } else if let Some(inv) = pending.remove(&e.process) {
            done.insert(inv, Done { kind: e.kind, read });
        }
    }
    let included = |op: RegOp, d: Option<&Done>| -> bool {
        let kind = d.map_or(Kind::Info, |d| d.kind);
        match op {
            RegOp::Read => model != Model::WritesLinearizable && kind == Kind::Ok,
            RegOp::Write(_) => kind != Kind::Fail,
            RegOp::Cas { .. } => true,
        }
    };
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let Op::Register { op, .. } = e.op else {
            continue;
        };
        if e.kind == Kind::Invoke {
            if included(op, done.get(&i)) {
                tester.on_invoke(e.process, op)?;
                open.insert(e.process, i);
            }
            continue;
        }
        let Some(inv) = open.remove(&e.process) else {
            continue;
        };
        let ret = match (op, e.kind, done.get(&inv).and_then(|d| d.read)) {
            (_, Kind::Info, _) => continue, // never returns
            (RegOp::Read, Kind::Ok, Some(v)) => RegRet::ReadOk(v),
            (RegOp::Read, _, _) => return Err(format!("read without a value at event {i}")),
            (RegOp::Write(_), _, _) => RegRet::WriteOk,
            (RegOp::Cas { .. }, Kind::Ok, _) => RegRet::CasOk,
            (RegOp::Cas { .. }, _, _) => RegRet::CasFailed,
        };
        tester.on_return(e.process, ret)?;
    }
    Ok(())
}

/// Checks one key's history under `model`: `Ok(true)` when consistent.
pub fn check_key(events: &[Event], model: Model) -> Result<bool, String> {
    match model {
        Model::AllSequential => {
            let mut t = SequentialConsistencyTester::new(CasRegister(0));
            feed(&mut t, events, model)?;
            Ok(t.is_consistent())
        }
        _ => {
            let mut t = LinearizabilityTester::new(CasRegister(0));
            feed(&mut t, events, model)?;
            Ok(t.is_consistent())
        }
    }
}

/// The outcome of one model over all keys.
#[derive(Clone, Debug, Default)]
pub struct ModelVerdict {
    pub keys: usize,
    /// Keys whose history is not consistent under the model (or malformed), with why.
    pub bad_keys: Vec<(u64, String)>,
}

/// Checks every key under `model`, on `threads` threads.
pub fn check_all(events: &[Event], model: Model, threads: usize) -> ModelVerdict {
    let keys: Vec<(u64, Vec<Event>)> = by_key(events).into_iter().collect();
    check_keys(keys, model, threads)
}

fn check_keys(keys: Vec<(u64, Vec<Event>)>, model: Model, threads: usize) -> ModelVerdict {
    let n = keys.len();
    let threads = threads.max(1);
    let mut chunks: Vec<Vec<(u64, Vec<Event>)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, k) in keys.into_iter().enumerate() {
        chunks[i % threads].push(k);
    }
    let mut bad = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                std::thread::Builder::new()
                    .stack_size(256 << 20)
                    .spawn_scoped(s, move || {
                        let mut bad = Vec::new();
                        for (key, evs) in chunk {
                            match check_key(evs, model) {
                                Ok(true) => {}
                                Ok(false) => bad.push((*key, "no valid order".to_string())),
                                Err(e) => bad.push((*key, e)),
                            }
                        }
                        bad
                    })
            })
            .collect();
        for h in handles {
            match h.map(|h| h.join()) {
                Ok(Ok(b)) => bad.extend(b),
                _ => bad.push((u64::MAX, "checker thread failed".to_string())),
            }
        }
    });
    bad.sort_by_key(|b| b.0);
    ModelVerdict {
        keys: n,
        bad_keys: bad,
    }
}

/// The time all sequential-consistency searches of one history may take together.
pub const SC_BUDGET_TOTAL: std::time::Duration = std::time::Duration::from_secs(180);

/// The three verdicts of a history. Sequential consistency is decided cheaply where it can
/// be: a key whose whole history (reads included) is linearizable is sequentially consistent
/// too (linearizability implies it), so `SequentialConsistencyTester`, whose search has no
/// real-time order to prune with, runs only on the keys that are not linearizable, each within
/// `sc_budget` and all of them within [`SC_BUDGET_TOTAL`]; a key it cannot decide in time
/// counts as bad ("undecided").
pub fn check_history(
    events: &[Event],
    threads: usize,
    sc_budget: std::time::Duration,
) -> Vec<(Model, ModelVerdict)> {
    let sc_deadline = std::time::Instant::now() + SC_BUDGET_TOTAL;
    let keys = by_key(events);
    let writes = check_all(events, Model::WritesLinearizable, threads);
    let all_lin = check_all(events, Model::AllLinearizable, threads);
    let mut sc = ModelVerdict {
        keys: keys.len(),
        bad_keys: Vec::new(),
    };
    for (key, _) in &all_lin.bad_keys {
        let Some(evs) = keys.get(key).cloned() else {
            continue;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || {
                let _ = tx.send(check_key(&evs, Model::AllSequential));
            });
        let verdict = match spawned {
            Err(e) => Err(format!("cannot start the checker: {e}")),
            // A search still running after the budget is left to finish on its own thread.
            Ok(_) => rx
                .recv_timeout(
                    sc_budget.min(sc_deadline.saturating_duration_since(std::time::Instant::now())),
                )
                .unwrap_or_else(|_| Err("undecided within the time budget".to_string())),
        };
        match verdict {
            Ok(true) => {}
            Ok(false) => sc.bad_keys.push((*key, "no valid order".to_string())),
            Err(e) => sc.bad_keys.push((*key, e)),
        }
    }
    vec![
        (Model::WritesLinearizable, writes),
        (Model::AllSequential, sc),
        (Model::AllLinearizable, all_lin),
    ]
}

#[cfg(test)]
mod tests {
    //! Hand-made histories: the checks must be able to fail.
    use super::*;

    fn h(spec: &[(u64, Kind, RegOp, Option<u64>)]) -> Vec<Event> {
        spec.iter()
            .enumerate()
            .map(|(t, &(process, kind, op, read))| Event {
                process,
                kind,
                op: Op::Register { key: 0, op, read },
                time_ns: t as u64,
            })
            .collect()
    }
    use Kind::{Fail, Info, Invoke};
    const OK: Kind = Kind::Ok;
    use RegOp::*;

    #[test]
    fn a_stale_read_after_an_acknowledged_write_is_not_linearizable_but_is_sequential() {
        let events = h(&[
            (1, Invoke, Write(5), None),
            (1, OK, Write(5), None),
            (2, Invoke, Read, None),
            (2, OK, Read, Some(0)),
        ]);
        assert_eq!(check_key(&events, Model::AllLinearizable), Ok(false));
        assert_eq!(check_key(&events, Model::AllSequential), Ok(true));
        assert_eq!(check_key(&events, Model::WritesLinearizable), Ok(true));
    }

    #[test]
    fn a_cas_that_succeeds_on_an_overwritten_value_is_not_linearizable() {
        // p1 wrote 5 (acknowledged) before p2's CAS 0 -> 7 started: the CAS must fail.
        let events = h(&[
            (1, Invoke, Write(5), None),
            (1, OK, Write(5), None),
            (2, Invoke, Cas { old: 0, new: 7 }, None),
            (2, OK, Cas { old: 0, new: 7 }, None),
        ]);
        assert_eq!(check_key(&events, Model::WritesLinearizable), Ok(false));
        // Concurrent with the write, the same CAS is fine (it goes first).
        let concurrent = h(&[
            (1, Invoke, Write(5), None),
            (2, Invoke, Cas { old: 0, new: 7 }, None),
            (1, OK, Write(5), None),
            (2, OK, Cas { old: 0, new: 7 }, None),
        ]);
        assert_eq!(check_key(&concurrent, Model::WritesLinearizable), Ok(true));
    }

    #[test]
    fn a_cas_that_fails_although_the_value_matched_is_caught() {
        let events = h(&[
            (1, Invoke, Write(5), None),
            (1, OK, Write(5), None),
            (2, Invoke, Cas { old: 5, new: 6 }, None),
            (2, Fail, Cas { old: 5, new: 6 }, None),
        ]);
        assert_eq!(check_key(&events, Model::WritesLinearizable), Ok(false));
    }

    #[test]
    fn a_process_that_reads_back_an_older_value_than_its_own_write_is_not_sequential() {
        let events = h(&[
            (1, Invoke, Write(5), None),
            (1, OK, Write(5), None),
            (1, Invoke, Read, None),
            (1, OK, Read, Some(0)),
        ]);
        assert_eq!(check_key(&events, Model::AllSequential), Ok(false));
    }

    #[test]
    fn an_indeterminate_write_may_take_effect_late_or_never() {
        // p1's write timed out (info); a later read may see it or not, and may see it after
        // another read did not.
        let seen_late = h(&[
            (1, Invoke, Write(5), None),
            (1, Info, Write(5), None),
            (2, Invoke, Read, None),
            (2, OK, Read, Some(0)),
            (3, Invoke, Read, None),
            (3, OK, Read, Some(5)),
        ]);
        assert_eq!(check_key(&seen_late, Model::AllLinearizable), Ok(true));
        // But a value nobody wrote can never be read.
        let invented = h(&[
            (1, Invoke, Write(5), None),
            (1, Info, Write(5), None),
            (2, Invoke, Read, None),
            (2, OK, Read, Some(6)),
        ]);
        assert_eq!(check_key(&invented, Model::AllSequential), Ok(false));
    }

    #[test]
    fn check_all_names_the_bad_key() {
        let mut events = h(&[
            (1, Invoke, Write(5), None),
            (1, OK, Write(5), None),
            (2, Invoke, Cas { old: 0, new: 7 }, None),
            (2, OK, Cas { old: 0, new: 7 }, None),
        ]);
        let mut good = h(&[(3, Invoke, Write(9), None), (3, OK, Write(9), None)]);
        for e in &mut good {
            e.op = match e.op.clone() {
                Op::Register { op, read, .. } => Op::Register { key: 4, op, read },
                o => o,
            };
        }
        events.extend(good);
        let v = check_all(&events, Model::WritesLinearizable, 2);
        assert_eq!(v.keys, 2);
        assert_eq!(v.bad_keys.len(), 1);
        assert_eq!(v.bad_keys[0].0, 0);
        let all = check_history(&events, 2, std::time::Duration::from_secs(60));
        let bad = |m: Model| {
            all.iter()
                .find(|(x, _)| *x == m)
                .map(|(_, v)| v.bad_keys.iter().map(|b| b.0).collect::<Vec<_>>())
        };
        assert_eq!(bad(Model::WritesLinearizable), Some(vec![0]));
        assert_eq!(bad(Model::AllLinearizable), Some(vec![0]));
        // The bad CAS is sequentially consistent (p2 first), and that search decides it.
        assert_eq!(bad(Model::AllSequential), Some(vec![]));
    }
}
