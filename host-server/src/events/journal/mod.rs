//! The ingest journal: an append-only, checksummed log of accepted batches, fsynced before their
//! 2xx, so an acknowledged event is durable before the columnar store has it. A store's loader
//! then moves the journal's records into its tables in large transactions in the background,
//! storing the last loaded record's sequence number (LSN) in the same transaction; at start,
//! the records after it are loaded again. Segments whose records are all loaded are deleted.
//!
//! A segment is a file `{first LSN:020}.seg` in the journal directory:
//!
//! ```text
//! segment = "EMBJRN01" | record*
//! record  = u32 body length | u32 CRC-32 of body | body
//! body    = u64 lsn | i64 org_id | i64 env_id | i32 arrival day | u32 event count | events
//! ```
//!
//! (`events` as [`record::EncodedEvents`] writes them; numbers little-endian). LSNs are
//! consecutive within a segment. Reading stops at the first record that is short, fails its
//! checksum or breaks the sequence: a write torn by a crash (the fsync never returned, so it was
//! never acknowledged). That tail is cut off and the journal goes on from the last good record.

pub mod record;

use std::{
    collections::VecDeque,
    fs::{File, OpenOptions},
    io::{Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, anyhow};

use self::record::EncodedEvents;
use super::{NewEvent, StoreScope};

const MAGIC: &[u8; 8] = b"EMBJRN01";
/// Body length and checksum.
const HEADER: usize = 8;
/// LSN, org, environment, day and count.
const BODY_FIXED: usize = 32;
/// No record is larger: a request body is at most 10 MiB.
const MAX_BODY: usize = 256 << 20;
/// A segment is closed and a new one started once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// One batch to journal.
pub struct Entry<'a> {
    /// Whose events.
    pub scope: StoreScope,
    /// The events, encoded.
    pub events: &'a EncodedEvents,
}

/// A journaled batch not yet loaded when the journal was opened.
#[derive(Debug)]
pub struct Replayed {
    /// Its sequence number.
    pub lsn: u64,
    /// Whose events.
    pub scope: StoreScope,
    /// The UTC day it arrived (for the de-duplication window).
    pub day: i32,
    count: u32,
    events: Vec<u8>,
}

impl Replayed {
    /// Decodes its events.
    pub fn events(&self) -> anyhow::Result<Vec<NewEvent>> {
        record::decode(&self.events, self.count).with_context(|| format!("journal record {}", self.lsn))
    }
}

/// The journal's writing side.
pub struct Journal {
    dir: PathBuf,
    /// (first LSN, path) of every segment still on disk, oldest first; the last is written to.
    segments: VecDeque<(u64, PathBuf)>,
    file: File,
    /// Bytes of the current segment (all of them whole records).
    len: u64,
    next_lsn: u64,
    segment_bytes: u64,
    buf: Vec<u8>,
}

fn segment_path(dir: &Path, first_lsn: u64) -> PathBuf {
    dir.join(format!("{first_lsn:020}.seg"))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What one segment file holds.
struct Scanned {
    records: Vec<Replayed>,
    last_lsn: Option<u64>,
}

/// Reads a segment's whole records, cutting off a torn or corrupt tail (with a warning).
fn scan_segment(path: &Path, first_lsn: u64, applied: u64) -> anyhow::Result<Scanned> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Scanned { records: Vec::new(), last_lsn: None };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        tracing::warn!(segment = %path.display(), "journal segment without its header; ignored");
        return Ok(out);
    }
    let mut at = MAGIC.len();
    let mut expected = first_lsn;
    let good_end = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break at;
        }
        if rest.len() < HEADER {
            break at;
        }
        let len = u32::from_le_bytes(rest[..4].try_into()?) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into()?);
        if !(BODY_FIXED..=MAX_BODY).contains(&len) || rest.len() < HEADER + len {
            break at;
        }
        let body = &rest[HEADER..HEADER + len];
        if crc32fast::hash(body) != crc {
            break at;
        }
        let lsn = u64::from_le_bytes(body[..8].try_into()?);
        if lsn != expected {
            break at;
        }
        if lsn > applied {
            out.records.push(Replayed {
                lsn,
                scope: StoreScope {
                    org_id: i64::from_le_bytes(body[8..16].try_into()?),
                    env_id: i64::from_le_bytes(body[16..24].try_into()?),
                },
                day: i32::from_le_bytes(body[24..28].try_into()?),
                count: u32::from_le_bytes(body[28..32].try_into()?),
                events: body[BODY_FIXED..].to_vec(),
            });
        }
        out.last_lsn = Some(lsn);
        expected = lsn + 1;
        at += HEADER + len;
    };
    if good_end < bytes.len() {
        tracing::warn!(
            segment = %path.display(),
            kept_bytes = good_end,
            dropped_bytes = bytes.len() - good_end,
            "journal segment ends in a torn or corrupt record (an unacknowledged write); cut off"
        );
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(good_end as u64)?;
        file.sync_all()?;
    }
    Ok(out)
}

impl Journal {
    /// Opens the journal in `dir` (created when missing), given the last LSN the store has
    /// loaded: returns the journal, positioned after its last whole record, and the records after
    /// `applied`, oldest first. Segments holding only loaded records are deleted.
    pub fn open(dir: &Path, applied: u64) -> anyhow::Result<(Journal, Vec<Replayed>)> {
        Self::open_sized(dir, applied, SEGMENT_BYTES)
    }

    /// [`open`](Self::open) with another segment size (tests rotate small segments).
    pub fn open_sized(
        dir: &Path,
        applied: u64,
        segment_bytes: u64,
    ) -> anyhow::Result<(Journal, Vec<Replayed>)> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let first = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(first) = first {
                found.push((first, path));
            }
        }
        found.sort();
        let mut replay = Vec::new();
        let mut last = applied;
        let mut segments = VecDeque::new();
        for (first, path) in found {
            let scanned = scan_segment(&path, first, applied)?;
            let loaded = scanned.last_lsn.is_none_or(|l| l <= applied);
            if loaded {
                std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
                last = last.max(scanned.last_lsn.unwrap_or(0));
                continue;
            }
            last = last.max(scanned.last_lsn.unwrap_or(0));
            replay.extend(scanned.records);
            segments.push_back((first, path));
        }
        let next_lsn = last + 1;
        let (file, path) = Self::create_segment(dir, next_lsn)?;
        segments.push_back((next_lsn, path));
        let journal = Journal {
            dir: dir.to_owned(),
            segments,
            file,
            len: MAGIC.len() as u64,
            next_lsn,
            segment_bytes,
            buf: Vec::new(),
        };
        Ok((journal, replay))
    }

    fn create_segment(dir: &Path, first_lsn: u64) -> anyhow::Result<(File, PathBuf)> {
        let path = segment_path(dir, first_lsn);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(MAGIC)?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok((file, path))
    }

    /// The last LSN written (0 when none ever was).
    pub fn last_lsn(&self) -> u64 {
        self.next_lsn - 1
    }

    /// The segment files on disk (for tests and logs).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Appends one record per entry and syncs them to disk, returning each entry's LSN. On
    /// failure nothing of it stays in the journal.
    pub fn append(&mut self, entries: &[Entry<'_>], day: i32) -> anyhow::Result<Vec<u64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        if self.len >= self.segment_bytes {
            self.roll()?;
        }
        self.buf.clear();
        let mut lsns = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let lsn = self.next_lsn + i as u64;
            let len = BODY_FIXED + entry.events.bytes.len();
            if len > MAX_BODY {
                return Err(anyhow!("a journal record of {len} bytes is larger than {MAX_BODY}"));
            }
            let mut fixed = [0u8; BODY_FIXED];
            fixed[..8].copy_from_slice(&lsn.to_le_bytes());
            fixed[8..16].copy_from_slice(&entry.scope.org_id.to_le_bytes());
            fixed[16..24].copy_from_slice(&entry.scope.env_id.to_le_bytes());
            fixed[24..28].copy_from_slice(&day.to_le_bytes());
            fixed[28..32].copy_from_slice(&entry.events.count.to_le_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(&fixed);
            crc.update(&entry.events.bytes);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
            self.buf.extend_from_slice(&crc.finalize().to_le_bytes());
            self.buf.extend_from_slice(&fixed);
            self.buf.extend_from_slice(&entry.events.bytes);
            lsns.push(lsn);
        }
        let written = self.file.write_all(&self.buf).and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Cut off whatever part reached the file, so the next record follows a whole one.
            self.file
                .set_len(self.len)
                .and_then(|()| self.file.seek(SeekFrom::Start(self.len)).map(drop))
                .with_context(|| {
                    format!(
                        "cutting a failed journal write off {}",
                        segment_path(&self.dir, self.segments.back().map_or(0, |s| s.0)).display()
                    )
                })?;
            return Err(anyhow!(e).context("writing the ingest journal"));
        }
        self.len += self.buf.len() as u64;
        self.next_lsn += entries.len() as u64;
        Ok(lsns)
    }

    /// Starts a new segment when the current one holds records (so that, once they are loaded,
    /// [`release`](Self::release) can delete them: loaded events do not linger in the journal, say
    /// after their org was deleted).
    pub fn roll(&mut self) -> anyhow::Result<()> {
        if self.len > MAGIC.len() as u64 {
            let (file, path) = Self::create_segment(&self.dir, self.next_lsn)?;
            self.file = file;
            self.len = MAGIC.len() as u64;
            self.segments.push_back((self.next_lsn, path));
        }
        Ok(())
    }

    /// Deletes the segments whose records are all loaded (up to LSN `applied`); the segment being
    /// written stays.
    pub fn release(&mut self, applied: u64) -> anyhow::Result<()> {
        while self.segments.len() > 1 && self.segments[1].0 <= applied + 1 {
            if let Some((_, path)) = self.segments.pop_front() {
                std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
