//! Durable state on disk, in ZooKeeper's layout: `dataLogDir/version-2/log.<hex zxid>` and
//! `dataDir/version-2/{snapshot.<hex zxid>, acceptedEpoch, currentEpoch}`.
//!
//! * **Transaction log**: `FileHeader{i32 "ZKLG"; i32 3; i64 dbid 0}`, then per record
//!   `i64 Adler32(txn bytes); i32 len; txn bytes; byte 0x42` (docs/protocol.md §4.1; the txn bytes are
//!   [`wire::write_txn_entry`]). No pre-allocation: a reader stops at EOF or a zero length. A
//!   record that is short, fails its checksum, lacks the 0x42 or goes back in zxid is a torn or
//!   corrupt tail: reported, cut (the file is truncated there and later files are removed) and
//!   never applied. Version 3 is [`LOG_FORMAT_VERSION`]: records hold prepped transactions
//!   (ZooKeeper's TxnHeader and txn records). A log file of version 2 holds ZabLab's earlier
//!   records (client requests, validated at apply) and is refused with
//!   [`OLD_LOG_FORMAT_ERROR`] before anything is read or cut.
//! * **Snapshots**: `FileHeader{"ZKSN"; 2; -1}; i64 zxid;` the machine's snapshot body, then
//!   `i64 Adler32(everything before)` and the jute string "/". Written to `.tmp`, fsynced,
//!   renamed, directory fsynced. A new log file starts after each snapshot.
//! * **Epoch files**: decimal ASCII, no newline, written `.tmp` + fsync + rename + dir fsync.
//! * **Group commit**: [`spawn_writer`] runs one thread that executes persist requests in order;
//!   all appends that arrive while an fsync runs go into the next single fsync, and the callback
//!   then acknowledges the highest id (`Input::Persisted{id}` covers every id up to it).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use zablab_core::durable::{DurableState, LogEntry, PersistOp};
use zablab_core::peer::{PeerDurable, PeerPersistOp};
use zablab_core::zxid::Zxid;

use crate::codec::jute::{self, Reader};
use crate::codec::machine::NodeMachine;
use crate::codec::wire;

pub const LOG_MAGIC: i32 = 0x5A4B_4C47; // "ZKLG"
pub const SNAP_MAGIC: i32 = 0x5A4B_534E; // "ZKSN"
/// The snapshot file's version (its body did not change with the prep stage).
const FILE_VERSION: i32 = 2;
/// The transaction log's version: 3 since log records carry prepped transactions.
pub const LOG_FORMAT_VERSION: i32 = 3;
/// What recovery says of a version-2 ZabLab log.
pub const OLD_LOG_FORMAT_ERROR: &str = "holds version-2 log records (client requests, from a     ZabLab server before the leader's prep stage); this server reads and writes version 3     (prepped transactions). Start this server on an empty dataLogDir, or let it sync from the     ensemble after moving the old version-2 directory away";
const HEADER_BYTES: u64 = 16;
const END_OF_RECORD: u8 = 0x42;

fn file_name_zxid(name: &str, prefix: &str) -> Option<u64> {
    let hex = name.strip_prefix(prefix)?;
    u64::from_str_radix(hex, 16).ok()
}

/// Files of one kind (`log.` or `snapshot.`) in `dir`, sorted by the zxid in their name.
fn list(dir: &Path, prefix: &str) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if let Some(name) = e.file_name().to_str() {
            if let Some(z) = file_name_zxid(name, prefix) {
                v.push((z, e.path()));
            }
        }
    }
    v.sort();
    Ok(v)
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically: `path.tmp`, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(())
}

fn header(magic: i32, version: i32, dbid: i64) -> Vec<u8> {
    let mut h = Vec::with_capacity(16);
    jute::put_i32(&mut h, magic);
    jute::put_i32(&mut h, version);
    jute::put_i64(&mut h, dbid);
    h
}

/// The zxid of a txn record without decoding the machine's part (TxnHeader's zxid).
fn record_zxid(txn: &[u8]) -> Option<u64> {
    let at = wire::ENTRY_ZXID_OFFSET;
    let b = txn.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

/// The version in a log file's header, if it has a ZooKeeper log header at all.
fn log_file_version(path: &Path) -> io::Result<Option<i32>> {
    let mut head = [0u8; 8];
    let mut f = File::open(path)?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..])? {
            0 => return Ok(None),
            n => got += n,
        }
    }
    let mut r = Reader::new(&head);
    match (r.i32(), r.i32()) {
        (Ok(LOG_MAGIC), Ok(v)) => Ok(Some(v)),
        _ => Ok(None),
    }
}

/// One record as read from a log file: its zxid, txn bytes and where it ends in the file.
#[doc(hidden)]
pub struct Record {
    pub zxid: u64,
    pub txn: Vec<u8>,
    pub end: u64,
}

/// Reads the valid records of one log file. Returns them and, if the file has a bad tail, a
/// description of it (the valid part ends at the last record's `end`, or the header).
fn read_log_file(path: &Path, after_zxid: u64) -> io::Result<(Vec<Record>, Option<String>)> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(read_log_bytes(&bytes, after_zxid))
}

/// [`read_log_file`] on the file's bytes: what recovery does with a log file it has read
/// (public for the fuzz targets and their corpus replay).
#[doc(hidden)]
pub fn read_log_bytes(bytes: &[u8], after_zxid: u64) -> (Vec<Record>, Option<String>) {
    let mut r = Reader::new(bytes);
    let head = (r.i32(), r.i32());
    if head.0 != Ok(LOG_MAGIC) || head.1 != Ok(LOG_FORMAT_VERSION) || r.i64().is_err() {
        return (Vec::new(), Some("bad or missing file header".to_string()));
    }
    let mut out = Vec::new();
    let mut last = after_zxid;
    loop {
        if r.is_empty() {
            return (out, None);
        }
        let at = r.position();
        let problem = (|| -> Result<Option<Record>, String> {
            let sum = r.i64().map_err(|_| "torn record header")?;
            let len = r.i32().map_err(|_| "torn record header")?;
            if len == 0 {
                return Ok(None); // pre-allocated padding: end of log
            }
            if len < 0 {
                return Err(format!("negative record length {len}"));
            }
            let txn = r.bytes(len as usize).map_err(|_| "torn record body")?;
            if jute::adler32(txn) as i64 != sum {
                return Err("checksum mismatch".into());
            }
            if r.u8().map_err(|_| "torn record end")? != END_OF_RECORD {
                return Err("missing end-of-record byte".into());
            }
            let zxid = record_zxid(txn).ok_or("record too short for a txn header")?;
            Ok(Some(Record {
                zxid,
                txn: txn.to_vec(),
                end: r.position() as u64,
            }))
        })();
        match problem {
            Ok(None) => return (out, None),
            Ok(Some(rec)) => {
                if rec.zxid <= last && last != 0 {
                    return (
                        out,
                        Some(format!(
                            "record at offset {at} goes back to zxid 0x{:x}",
                            rec.zxid
                        )),
                    );
                }
                last = rec.zxid;
                out.push(rec);
            }
            Err(why) => return (out, Some(format!("{why} at offset {at}"))),
        }
    }
}

/// What recovery found, besides the state.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    pub lines: Vec<String>,
    /// True when a corrupt or torn tail was cut.
    pub cut_tail: bool,
}

/// ZooKeeper's `fsync.warningthresholdms` default: a slower fsync is logged and counted.
pub const FSYNC_WARNING_THRESHOLD_MS: u64 = 1000;

/// The node's files.
pub struct Store<M: NodeMachine> {
    snap_dir: PathBuf,
    log_dir: PathBuf,
    /// The log file appends go to (None: start a new one at the next append).
    current: Option<BufWriter<File>>,
    /// Number of log fsyncs so far (for tests and metrics).
    pub fsyncs: Arc<AtomicU64>,
    /// How long each log fsync took, in ms (ZooKeeper's `fsynctime`).
    pub fsync_time: Arc<crate::server::metrics::Summary>,
    /// fsyncs that took [`FSYNC_WARNING_THRESHOLD_MS`] or more.
    pub fsync_threshold_exceed_count: Arc<AtomicU64>,
    /// Records written since the last fsync.
    dirty: bool,
    scratch: Vec<u8>,
    _m: std::marker::PhantomData<M>,
}

impl<M: NodeMachine> Store<M> {
    /// Opens (creating) `dataDir/version-2` and `dataLogDir/version-2`.
    pub fn open(data_dir: &Path, data_log_dir: &Path) -> io::Result<Store<M>> {
        let snap_dir = data_dir.join("version-2");
        let log_dir = data_log_dir.join("version-2");
        fs::create_dir_all(&snap_dir)?;
        fs::create_dir_all(&log_dir)?;
        Ok(Store {
            snap_dir,
            log_dir,
            current: None,
            fsyncs: Arc::new(AtomicU64::new(0)),
            fsync_time: Arc::default(),
            fsync_threshold_exceed_count: Arc::default(),
            dirty: false,
            scratch: Vec::new(),
            _m: std::marker::PhantomData,
        })
    }

    fn read_epoch(&self, name: &str, report: &mut RecoveryReport) -> Option<u32> {
        let path = self.snap_dir.join(name);
        let text = fs::read_to_string(&path).ok()?;
        match text.trim().parse::<u32>() {
            Ok(e) => Some(e),
            Err(_) => {
                report
                    .lines
                    .push(format!("{}: not a decimal epoch: {text:?}", path.display()));
                None
            }
        }
    }

    fn load_snapshot(path: &Path) -> Result<(Zxid, M::Snapshot), String> {
        let bytes = fs::read(path).map_err(|e| e.to_string())?;
        Self::decode_snapshot(&bytes)
    }

    /// [`Store::load_snapshot`] on the file's bytes (public for the fuzz targets and their
    /// corpus replay).
    #[doc(hidden)]
    pub fn decode_snapshot(bytes: &[u8]) -> Result<(Zxid, M::Snapshot), String> {
        if bytes.len() < 16 + 8 + 8 + 5 {
            return Err("too short".into());
        }
        let mut r = Reader::new(bytes);
        if r.i32() != Ok(SNAP_MAGIC) || r.i32() != Ok(FILE_VERSION) || r.i64().is_err() {
            return Err("bad file header".into());
        }
        let zxid = Zxid(r.i64().map_err(|e| e.to_string())? as u64);
        let snap = M::read_snapshot(&mut r).map_err(|e| e.to_string())?;
        let sealed = r.position();
        let sum = r.i64().map_err(|e| e.to_string())?;
        if jute::adler32(&bytes[..sealed]) as i64 != sum {
            return Err("checksum mismatch".into());
        }
        if r.ustring().map_err(|e| e.to_string())?.as_deref() != Some("/") || !r.is_empty() {
            return Err("bad seal".into());
        }
        Ok((zxid, snap))
    }

    /// Loads the newest valid snapshot and replays the log after it; cuts a corrupt tail.
    pub fn recover(&mut self) -> io::Result<(PeerDurable<M>, RecoveryReport)> {
        let mut report = RecoveryReport::default();
        let mut durable: PeerDurable<M> = DurableState::default();
        for (_, path) in list(&self.snap_dir, "snapshot.")?.into_iter().rev() {
            match Self::load_snapshot(&path) {
                Ok(s) => {
                    report.lines.push(format!(
                        "loaded snapshot {} (zxid 0x{:x})",
                        path.display(),
                        s.0 .0
                    ));
                    durable.snapshot = Some(s);
                    break;
                }
                Err(why) => report.lines.push(format!(
                    "skipping invalid snapshot {}: {why}",
                    path.display()
                )),
            }
        }
        let snap_zxid = durable.snapshot.as_ref().map(|(z, _)| z.0).unwrap_or(0);
        let files = list(&self.log_dir, "log.")?;
        // An old-format log must not be taken for a torn one and cut: refuse the whole dir.
        for (_, path) in &files {
            if log_file_version(path)? == Some(2) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} {OLD_LOG_FORMAT_ERROR}", path.display()),
                ));
            }
        }
        let mut last = 0u64;
        let mut cut_at: Option<usize> = None;
        for (i, (_, path)) in files.iter().enumerate() {
            let (records, bad) = read_log_file(path, last)?;
            let good_end = records.last().map(|r| r.end).unwrap_or(HEADER_BYTES);
            for rec in records {
                last = rec.zxid;
                if rec.zxid <= snap_zxid {
                    continue;
                }
                match wire::read_txn_entry::<M>(&rec.txn) {
                    Ok(e) => durable.log.push(e),
                    Err(e) => {
                        // Checksummed but undecodable: a bug or a foreign file; stop here too.
                        report.lines.push(format!(
                            "{}: undecodable txn 0x{:x}: {e}",
                            path.display(),
                            rec.zxid
                        ));
                        cut_at = Some(i + 1);
                        break;
                    }
                }
            }
            if let Some(why) = bad {
                report.cut_tail = true;
                report.lines.push(format!(
                    "corrupt or torn log tail in {}: {why}; cutting it at byte {good_end}",
                    path.display()
                ));
                let f = OpenOptions::new().write(true).open(path)?;
                if good_end <= HEADER_BYTES {
                    drop(f);
                    fs::remove_file(path)?;
                } else {
                    f.set_len(good_end)?;
                    f.sync_all()?;
                }
                cut_at = Some(i + 1);
            }
            if cut_at.is_some() {
                break;
            }
        }
        if let Some(from) = cut_at {
            for (_, path) in &files[from..] {
                report.cut_tail = true;
                report.lines.push(format!(
                    "removing log {} that follows the cut",
                    path.display()
                ));
                fs::remove_file(path)?;
            }
            fsync_dir(&self.log_dir)?;
        }
        let last_epoch = durable.last_logged_zxid().epoch();
        durable.current_epoch = self
            .read_epoch("currentEpoch", &mut report)
            .unwrap_or(last_epoch);
        durable.accepted_epoch = self
            .read_epoch("acceptedEpoch", &mut report)
            .unwrap_or(durable.current_epoch)
            .max(durable.current_epoch);
        Ok((durable, report))
    }

    /// Writes one record into the current log file (buffered; [`Store::sync`] makes it durable).
    pub fn append(&mut self, e: &LogEntry<M::Txn>) -> io::Result<()> {
        if self.current.is_none() {
            let path = self.log_dir.join(format!("log.{:x}", e.zxid.0));
            let existed = path.exists();
            let f = OpenOptions::new().create(true).append(true).open(&path)?;
            let mut w = BufWriter::with_capacity(256 * 1024, f);
            if !existed {
                w.write_all(&header(LOG_MAGIC, LOG_FORMAT_VERSION, 0))?;
                w.flush()?;
                w.get_ref().sync_all()?;
                fsync_dir(&self.log_dir)?;
            }
            self.current = Some(w);
        }
        self.scratch.clear();
        wire::write_txn_entry::<M>(e, &mut self.scratch);
        let mut rec = Vec::with_capacity(self.scratch.len() + 13);
        jute::put_i64(&mut rec, jute::adler32(&self.scratch) as i64);
        jute::put_i32(&mut rec, self.scratch.len() as i32);
        rec.extend_from_slice(&self.scratch);
        rec.push(END_OF_RECORD);
        self.dirty = true;
        match &mut self.current {
            Some(w) => w.write_all(&rec),
            None => Err(io::Error::other("no log file")),
        }
    }

    /// Flushes and fsyncs the current log file.
    pub fn sync(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(w) = &mut self.current {
            self.dirty = false;
            let start = std::time::Instant::now();
            w.flush()?;
            w.get_ref().sync_data()?;
            self.fsyncs.fetch_add(1, Ordering::Relaxed);
            let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.fsync_time.add(ms);
            if ms >= FSYNC_WARNING_THRESHOLD_MS {
                self.fsync_threshold_exceed_count
                    .fetch_add(1, Ordering::Relaxed);
                eprintln!("zablab: fsync of the transaction log took {ms} ms");
            }
        }
        Ok(())
    }

    fn close_log(&mut self) -> io::Result<()> {
        self.sync()?;
        self.current = None;
        Ok(())
    }

    fn write_snapshot(&mut self, zxid: Zxid, snapshot: &M::Snapshot) -> io::Result<()> {
        let mut b = header(SNAP_MAGIC, FILE_VERSION, -1);
        jute::put_i64(&mut b, zxid.0 as i64);
        M::write_snapshot(snapshot, &mut b);
        let sum = jute::adler32(&b);
        jute::put_i64(&mut b, sum as i64);
        jute::put_ustring(&mut b, Some("/"));
        write_atomic(&self.snap_dir.join(format!("snapshot.{:x}", zxid.0)), &b)
    }

    fn truncate(&mut self, zxid: Zxid) -> io::Result<()> {
        self.close_log()?;
        let files = list(&self.log_dir, "log.")?;
        let mut cut_from = files.len();
        for (i, (_, path)) in files.iter().enumerate() {
            let (records, _) = read_log_file(path, 0)?;
            if let Some(pos) = records.iter().position(|r| r.zxid > zxid.0) {
                if pos == 0 {
                    cut_from = i;
                } else {
                    let f = OpenOptions::new().write(true).open(path)?;
                    f.set_len(records[pos - 1].end)?;
                    f.sync_all()?;
                    cut_from = i + 1;
                }
                break;
            }
        }
        for (_, path) in files.iter().skip(cut_from) {
            fs::remove_file(path)?;
        }
        fsync_dir(&self.log_dir)
    }

    fn remove_all(&mut self, prefix: &str, dir: &Path) -> io::Result<()> {
        for (_, path) in list(dir, prefix)? {
            fs::remove_file(path)?;
        }
        fsync_dir(dir)
    }

    /// Executes one persist request. Appends are buffered until [`Store::sync`].
    pub fn apply(&mut self, op: &PeerPersistOp<M>) -> io::Result<()> {
        match op {
            PersistOp::Append(e) => self.append(e),
            other => {
                self.sync()?;
                match other {
                    PersistOp::AcceptedEpoch(e) => write_atomic(
                        &self.snap_dir.join("acceptedEpoch"),
                        e.to_string().as_bytes(),
                    ),
                    PersistOp::CurrentEpoch(e) => write_atomic(
                        &self.snap_dir.join("currentEpoch"),
                        e.to_string().as_bytes(),
                    ),
                    PersistOp::Truncate(z) => self.truncate(*z),
                    PersistOp::Snapshot { zxid, snapshot } => {
                        self.write_snapshot(*zxid, snapshot)?;
                        self.close_log()
                    }
                    PersistOp::InstallSnapshot { zxid, snapshot } => {
                        // The new snapshot is durable before the old log goes, so a crash in
                        // between never loses what this server had acknowledged. A leftover
                        // old log is harmless: SNAP is only chosen when every zxid the learner
                        // logged is below the snapshot's, and recovery replays only entries
                        // above the snapshot.
                        self.close_log()?;
                        self.write_snapshot(*zxid, snapshot)?;
                        let log_dir = self.log_dir.clone();
                        self.remove_all("log.", &log_dir)
                    }
                    PersistOp::DiscardDatabase => {
                        // acceptedEpoch stays (a promise); currentEpoch becomes 0 with the data
                        // it described (see PersistOp::DiscardDatabase).
                        self.close_log()?;
                        let (log_dir, snap_dir) = (self.log_dir.clone(), self.snap_dir.clone());
                        self.remove_all("log.", &log_dir)?;
                        self.remove_all("snapshot.", &snap_dir)?;
                        write_atomic(&snap_dir.join("currentEpoch"), b"0")?;
                        fsync_dir(&snap_dir)
                    }
                    PersistOp::Append(_) => Ok(()),
                }
            }
        }
    }

    /// ZooKeeper's autopurge: keeps the newest `retain` snapshots and the logs they need.
    pub fn purge(&mut self, retain: usize) -> io::Result<Vec<PathBuf>> {
        let snaps = list(&self.snap_dir, "snapshot.")?;
        let mut removed = Vec::new();
        if snaps.len() <= retain {
            return Ok(removed);
        }
        let keep_from = snaps.len() - retain;
        let oldest_kept = snaps[keep_from].0;
        for (_, p) in &snaps[..keep_from] {
            fs::remove_file(p)?;
            removed.push(p.clone());
        }
        // A log may go when the next log starts at or below oldest_kept + 1: all its records
        // are then covered by every kept snapshot.
        let logs = list(&self.log_dir, "log.")?;
        for w in logs.windows(2) {
            if w[1].0 <= oldest_kept + 1 {
                fs::remove_file(&w[0].1)?;
                removed.push(w[0].1.clone());
            }
        }
        fsync_dir(&self.snap_dir)?;
        fsync_dir(&self.log_dir)?;
        Ok(removed)
    }
}

/// A request to the writer thread.
pub enum WriterCmd<M: NodeMachine> {
    Persist {
        id: u64,
        op: PeerPersistOp<M>,
    },
    Purge {
        retain: usize,
    },
    /// Shutdown (SIGTERM): answered once everything queued before it is fsync'd, so the
    /// process exits with its log complete rather than mid-batch.
    Flush {
        done: mpsc::Sender<()>,
    },
}

/// Starts the writer thread. `done(id)` runs after every batch, once everything up to `id` is
/// durable; `fatal(error)` runs if the disk fails (the server must not go on).
pub fn spawn_writer<M: NodeMachine>(
    mut store: Store<M>,
    done: impl Fn(u64) + Send + 'static,
    fatal: impl Fn(io::Error) + Send + 'static,
) -> io::Result<mpsc::Sender<WriterCmd<M>>> {
    let (tx, rx) = mpsc::channel::<WriterCmd<M>>();
    std::thread::Builder::new()
        .name("zablab-log-writer".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                // Group commit: everything queued while the last fsync ran joins this batch.
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let mut acked = None;
                let mut flushed = Vec::new();
                let result = (|| -> io::Result<()> {
                    for cmd in batch {
                        match cmd {
                            WriterCmd::Persist { id, op } => {
                                store.apply(&op)?;
                                acked = Some(id);
                            }
                            WriterCmd::Purge { retain } => {
                                store.sync()?;
                                for p in store.purge(retain)? {
                                    eprintln!("zablab: autopurge removed {}", p.display());
                                }
                            }
                            WriterCmd::Flush { done } => flushed.push(done),
                        }
                    }
                    store.sync()
                })();
                match result {
                    Ok(()) => {
                        if let Some(id) = acked {
                            done(id);
                        }
                        for f in flushed {
                            let _ = f.send(());
                        }
                    }
                    Err(e) => {
                        fatal(e);
                        return;
                    }
                }
            }
        })?;
    Ok(tx)
}
