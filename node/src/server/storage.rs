//! Durable state on disk, as Apache ZooKeeper 3.8 keeps it, so a `zablab server` starts on a
//! dataDir ZooKeeper wrote and the reverse (docs/protocol.md §4):
//! `dataLogDir/version-2/log.<hex zxid>` (FileTxnLog), `dataDir/version-2/snapshot.<hex zxid>`
//! (FileSnap) and `dataDir/version-2/{acceptedEpoch, currentEpoch}` (QuorumPeer). The byte
//! layouts are `codec::zk_files`; this module is the policy: what is fsync'd when, what a crash
//! leaves and what recovery does with it.
//!
//! * **Transaction log**: `FileHeader{"ZKLG", 2, dbid 0}`, then per record `long Adler32(txn);
//!   int len; txn; byte 'B'`, `txn` = `TxnHeader` + the machine's record
//!   ([`txn_log::write_entry`]). ZabLab writes no `TxnDigest` after a record (the digest after
//!   a transaction is known where it is applied, not in the log writer) and reads records with
//!   or without one. It does not pre-allocate either: ZooKeeper pads a log with zeros in 64 MB
//!   steps so an fsync rarely changes the file's size; ZabLab appends, so a log is as long as
//!   its records, a torn tail is where the file ends, and a cut is one `set_len`. A reader
//!   stops at the zeros of a ZooKeeper log all the same.
//! * **Recovery** reads every log file before it changes anything. A record cut short, one
//!   whose checksum fails or whose length is out of bounds is a torn or corrupt tail:
//!   reported, cut (the file truncated there, later files removed) and never applied. A file
//!   that is no ZooKeeper log, a checksummed record that does not decode, or zxids that go
//!   back refuse the start-up with the file named and nothing touched: that is not a crash
//!   mid-write. So are ZabLab's former files (`storage/former.rs`).
//! * **Origins are not stored.** A `LogEntry`'s `origin` names the server whose client waits
//!   for the reply; ZooKeeper's record has no such field. Recovered entries come back with
//!   `None`, which is what they mean after a restart: the core replies only to a tag in its
//!   `pending_requests` (`core/src/peer/store.rs` `apply_entry`), which a recovered peer has
//!   none of, and no state machine reads `TxnContext::origin` when it applies. A stale origin
//!   could only have matched a new tag by accident.
//! * **Snapshots**: the machine's `snapshot.<zxid>` bytes ([`NodeMachine::write_snapshot_file`]),
//!   written to `.tmp`, fsynced, renamed, directory fsynced. A new log file starts after each
//!   snapshot. Before the first log file of an empty store, `snapshot.0` of the empty machine
//!   is written, as ZooKeeper does at its first start: ZooKeeper refuses a log without a
//!   snapshot. Recovery reads that file as no snapshot, which is what it means.
//! * **Epoch files**: decimal ASCII, no newline (`QuorumPeer.writeLongToFile`), written
//!   `.tmp` + fsync + rename + dir fsync. A standalone ZooKeeper writes none; recovery then
//!   takes currentEpoch from the last logged zxid, as QuorumPeer does.
//! * **Group commit**: [`spawn_writer`] runs one thread that executes persist requests in order;
//!   all appends that arrive while an fsync runs go into the next single fsync, and the callback
//!   then acknowledges the highest id (`Input::Persisted{id}` covers every id up to it).

mod former;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use zablab_core::durable::{DurableState, LogEntry, PersistOp};
use zablab_core::peer::{PeerDurable, PeerPersistOp};
use zablab_core::zxid::Zxid;

use crate::codec::machine::NodeMachine;
use crate::codec::zk_files::txn_log::{self, LogEnd};
use crate::codec::zk_files::{
    log_file_name, snapshot_file_name, zxid_from_file_name, ZkFileError, FILE_HEADER_BYTES,
    VERSION_DIR,
};

pub use former::{OLD_LOG_FORMAT_ERROR, OLD_SNAPSHOT_FORMAT_ERROR};

/// The longest record recovery reads: far above any `jute.maxbuffer` a server runs with, so a
/// longer length is damage, not a transaction.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// Files of one kind (`log` or `snapshot`) in `dir`, sorted by the zxid in their name.
fn list(dir: &Path, prefix: &str) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if let Some(name) = e.file_name().to_str() {
            if let Some(z) = zxid_from_file_name(name, prefix) {
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

fn refused(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}

/// One entry as read from a log file, and where its record ends in the file.
#[doc(hidden)]
pub struct LoggedEntry<T> {
    pub entry: LogEntry<T>,
    pub end: u64,
}

/// A log file as recovery reads it.
#[doc(hidden)]
pub struct LogFile<T> {
    pub entries: Vec<LoggedEntry<T>>,
    /// A torn or corrupt tail: where the valid part ends, and what was wrong.
    pub bad_tail: Option<(u64, String)>,
}

/// Reads a log file's bytes: its entries, in zxid order above `after_zxid`, and its bad tail.
/// `Err` is a file recovery must refuse rather than cut (see the module doc); the message
/// says why and what to do. A file shorter than its header, or whose header is all zeros, was
/// being created when the server stopped: all of it is a bad tail. (Public for the fuzz
/// targets and the storage tests.)
#[doc(hidden)]
pub fn read_log_bytes<M: NodeMachine>(
    bytes: &[u8],
    after_zxid: u64,
) -> Result<LogFile<M::Txn>, String> {
    if bytes.len() < FILE_HEADER_BYTES || bytes[..FILE_HEADER_BYTES].iter().all(|b| *b == 0) {
        return Ok(LogFile {
            entries: Vec::new(),
            bad_tail: Some((0, "torn file header".to_string())),
        });
    }
    let log = match txn_log::read_log(bytes, MAX_RECORD_BYTES) {
        Ok(log) => log,
        Err(ZkFileError::UnsupportedVersion(former::FORMER_LOG_VERSION)) => {
            return Err(format!(
                "{OLD_LOG_FORMAT_ERROR}; {}",
                former::FORMER_LAYOUT_HINT
            ))
        }
        Err(e) => return Err(format!("not a ZooKeeper 3.8 transaction log: {e}")),
    };
    let mut entries = Vec::with_capacity(log.records.len());
    let mut last = after_zxid;
    for rec in &log.records {
        let at = rec.txn.start - 12;
        let (entry, _digest) = txn_log::read_entry::<M>(&bytes[rec.txn.clone()]).map_err(|e| {
            format!(
                "the record at byte {at} is checksummed but is no transaction this server \
                 reads ({e}). If an earlier ZabLab wrote this directory: {}",
                former::FORMER_LAYOUT_HINT
            )
        })?;
        if entry.zxid.0 <= last {
            return Err(format!(
                "the record at byte {at} goes back to zxid {:#x} after {last:#x}",
                entry.zxid.0
            ));
        }
        last = entry.zxid.0;
        entries.push(LoggedEntry {
            entry,
            end: rec.txn.end as u64 + 1,
        });
    }
    let bad_tail = match log.end {
        LogEnd::Clean => None,
        LogEnd::TornTail { at } => Some((at as u64, format!("torn record at byte {at}"))),
        LogEnd::Corrupt { at, why } => Some((at as u64, format!("{why} at byte {at}"))),
    };
    Ok(LogFile { entries, bad_tail })
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
        let snap_dir = data_dir.join(VERSION_DIR);
        let log_dir = data_log_dir.join(VERSION_DIR);
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

    /// [`NodeMachine::read_snapshot_file`], and whether the bytes are ZabLab's former layout
    /// (public for the fuzz targets and their corpus replay).
    #[doc(hidden)]
    pub fn decode_snapshot(bytes: &[u8], name_zxid: i64) -> Result<M::Snapshot, String> {
        M::read_snapshot_file(bytes).map_err(|e| {
            if former::is_former_snapshot::<M>(bytes, name_zxid) {
                format!(
                    "{OLD_SNAPSHOT_FORMAT_ERROR}; {}",
                    former::FORMER_LAYOUT_HINT
                )
            } else {
                e.to_string()
            }
        })
    }

    /// The bytes of `snapshot.0` for an empty store (see the module doc).
    fn empty_snapshot_file() -> Vec<u8> {
        M::write_snapshot_file(&M::empty().snapshot(), Zxid::ZERO)
    }

    /// Loads the newest valid snapshot and replays the log after it; cuts a corrupt tail.
    /// Refuses (`InvalidData`, nothing changed on disk) files that are not ZooKeeper's, or are
    /// ZabLab's former layout.
    pub fn recover(&mut self) -> io::Result<(PeerDurable<M>, RecoveryReport)> {
        let mut report = RecoveryReport::default();
        let mut durable: PeerDurable<M> = DurableState::default();
        for (zxid, path) in list(&self.snap_dir, "snapshot")?.into_iter().rev() {
            let bytes = fs::read(&path)?;
            match Self::decode_snapshot(&bytes, zxid) {
                Ok(s) => {
                    report.lines.push(format!(
                        "loaded snapshot {} (zxid 0x{zxid:x})",
                        path.display()
                    ));
                    if zxid != 0 || bytes != Self::empty_snapshot_file() {
                        durable.snapshot = Some((Zxid(zxid as u64), s));
                    }
                    break;
                }
                Err(why) if why.starts_with(OLD_SNAPSHOT_FORMAT_ERROR) => {
                    return Err(refused(&path, why))
                }
                Err(why) => report.lines.push(format!(
                    "skipping invalid snapshot {}: {why}",
                    path.display()
                )),
            }
        }
        let snap_zxid = durable.snapshot.as_ref().map(|(z, _)| z.0).unwrap_or(0);
        // Every file is read (and may refuse the start-up) before anything is cut.
        let files = list(&self.log_dir, "log")?;
        let mut read = Vec::with_capacity(files.len());
        let mut last = 0u64;
        for (_, path) in &files {
            let bytes = fs::read(path)?;
            let file = read_log_bytes::<M>(&bytes, last).map_err(|why| refused(path, why))?;
            if let Some(e) = file.entries.last() {
                last = e.entry.zxid.0;
            }
            read.push(file);
        }
        for (i, file) in read.into_iter().enumerate() {
            let path = &files[i].1;
            durable.log.extend(
                file.entries
                    .into_iter()
                    .map(|e| e.entry)
                    .filter(|e| e.zxid.0 > snap_zxid),
            );
            if let Some((at, why)) = file.bad_tail {
                report.cut_tail = true;
                report.lines.push(format!(
                    "corrupt or torn log tail in {}: {why}; cutting it at byte {at}",
                    path.display()
                ));
                for removed in self.cut_log(&files, i, at)? {
                    report.lines.push(format!(
                        "removing log {} that follows the cut",
                        removed.display()
                    ));
                }
                break;
            }
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

    /// Starts the log file whose first record is `first`: `snapshot.0` first if the store is
    /// empty, then the header, fsync'd with its directory entry before any record goes in.
    fn open_log(&mut self, first: Zxid) -> io::Result<BufWriter<File>> {
        if list(&self.snap_dir, "snapshot")?.is_empty() && list(&self.log_dir, "log")?.is_empty() {
            let path = self.snap_dir.join(snapshot_file_name(0));
            write_atomic(&path, &Self::empty_snapshot_file())?;
        }
        // A file of that name can only hold records above the durable log (none that
        // recovery kept): it is started over, never appended to after its old bytes (a
        // ZooKeeper log's zeros would hide everything written after them).
        let path = self.log_dir.join(log_file_name(first.0 as i64));
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        let mut w = BufWriter::with_capacity(256 * 1024, f);
        w.write_all(&txn_log::log_file_header())?;
        w.flush()?;
        w.get_ref().sync_all()?;
        fsync_dir(&self.log_dir)?;
        Ok(w)
    }

    /// Writes one record into the current log file (buffered; [`Store::sync`] makes it durable).
    pub fn append(&mut self, e: &LogEntry<M::Txn>) -> io::Result<()> {
        if self.current.is_none() {
            self.current = Some(self.open_log(e.zxid)?);
        }
        self.scratch.clear();
        txn_log::write_entry::<M>(e, &mut self.scratch);
        let mut rec = Vec::with_capacity(self.scratch.len() + 13);
        txn_log::append_record(&mut rec, &self.scratch);
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
        let path = self.snap_dir.join(snapshot_file_name(zxid.0 as i64));
        write_atomic(&path, &M::write_snapshot_file(snapshot, zxid))
    }

    /// Cuts the log at byte `at` of `files[i]` (all of it when `at` is within the header) and
    /// removes every later file, newest first and before the cut, so a crash in between
    /// leaves a prefix of the old log, never a log with a gap. Returns the later files removed.
    fn cut_log(&self, files: &[(i64, PathBuf)], i: usize, at: u64) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        for (_, later) in files[i + 1..].iter().rev() {
            fs::remove_file(later)?;
            removed.push(later.clone());
        }
        if !removed.is_empty() {
            fsync_dir(&self.log_dir)?;
        }
        let path = &files[i].1;
        if at <= FILE_HEADER_BYTES as u64 {
            fs::remove_file(path)?;
            fsync_dir(&self.log_dir)?;
        } else {
            let f = OpenOptions::new().write(true).open(path)?;
            f.set_len(at)?;
            f.sync_all()?;
        }
        removed.reverse();
        Ok(removed)
    }

    fn truncate(&mut self, zxid: Zxid) -> io::Result<()> {
        self.close_log()?;
        let files = list(&self.log_dir, "log")?;
        for (i, (_, path)) in files.iter().enumerate() {
            let bytes = fs::read(path)?;
            let file = read_log_bytes::<M>(&bytes, 0).map_err(|why| refused(path, why))?;
            let entries = &file.entries;
            if let Some(pos) = entries.iter().position(|r| r.entry.zxid > zxid) {
                let at = pos.checked_sub(1).map_or(0, |before| entries[before].end);
                self.cut_log(&files, i, at)?;
                break;
            }
        }
        Ok(())
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
                        self.remove_all("log", &log_dir)
                    }
                    PersistOp::DiscardDatabase => {
                        // acceptedEpoch stays (a promise); currentEpoch becomes 0 with the data
                        // it described (see PersistOp::DiscardDatabase).
                        self.close_log()?;
                        let (log_dir, snap_dir) = (self.log_dir.clone(), self.snap_dir.clone());
                        self.remove_all("log", &log_dir)?;
                        self.remove_all("snapshot", &snap_dir)?;
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
        let snaps = list(&self.snap_dir, "snapshot")?;
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
        let logs = list(&self.log_dir, "log")?;
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
