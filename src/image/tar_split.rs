//! Tar-split: what it takes to give back a pulled layer's exact tar stream from
//! its unpacked directory, so that `save` and `push` hand out the same diff ids
//! (and so the same image ids) the registry served. containers/storage and
//! docker keep the same kind of record for the same reason.
//!
//! While the layer writer reads a tar, every byte that is not a regular file's
//! content (headers, extension records, padding, the end-of-archive blocks and
//! whatever follows them) is recorded as it was; a file's content is recorded
//! as "n bytes of the file at this path", to be read back from the layer
//! directory. Runs of zeros are recorded by their length. The record is a gzip
//! stream beside the layer (`tar-split.gz`), typically well under 1% of the
//! layer's size.
//!
//! Records, after the magic line: `R` u32 length + bytes (raw), `Z` u64 (that
//! many zero bytes), `F` u16 path length + path + u32 run count + (u64 offset,
//! u64 length) runs (the file whose content follows: a plain file is one run,
//! a sparse file its map), `D` u64 (that many bytes of the current file's
//! content), `E` (end). Integers little-endian.
//!
//! Reading it back resolves every path inside the layer directory
//! (`openat2(RESOLVE_IN_ROOT)`), as the writer wrote them: a symlink in the
//! layer never leads out of it. The result is checked against the diff id by
//! the caller; a layer whose directory changed gives a mismatch, not a wrong tar.

use super::digest::{Digest, HashingWriter};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The record file's name in a stored layer's directory.
pub const FILE_NAME: &str = "tar-split.gz";
const MAGIC: &[u8] = b"rde-tar-split-v1\n";
/// Raw bytes are buffered up to this before a record is written.
const RAW_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TarSplitError {
    #[error("cannot write the layer's tar-split record: {0}")]
    Write(#[source] io::Error),
    #[error("the tar-split record {path} is damaged: {message}")]
    Damaged { path: PathBuf, message: String },
    #[error("cannot read {file} of the layer: {source}")]
    Content { file: String, source: io::Error },
    #[error("cannot write the layer's tar: {0}")]
    Out(#[source] io::Error),
    #[error("this layer's tar cannot be written out again: {0}; hint: the registry's blob is still the layer")]
    NotReproducible(String),
}

/// One run of a file's content, as the tar stores it (see `unpack::reader::Extent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub offset: u64,
    pub length: u64,
}

/// Writes the record while a layer is read.
pub struct Recorder {
    out: GzEncoder<BufWriter<File>>,
    /// Raw bytes not yet written as a record.
    raw: Vec<u8>,
    /// Content bytes of the current file not yet written as a record.
    data: u64,
    failed: Option<io::Error>,
    path: PathBuf,
    /// Paths whose content the record reads back, and their parent directories:
    /// a later entry that replaces or removes one makes the record unusable.
    files: std::collections::HashSet<PathBuf>,
    dirs: std::collections::HashSet<PathBuf>,
    /// Why the tar cannot be given back from the directory (see `entry`).
    inexact: Option<String>,
}

impl Recorder {
    /// Start a record in `file` (created or truncated).
    pub fn create(path: &Path) -> Result<Recorder, TarSplitError> {
        let file = File::create(path).map_err(TarSplitError::Write)?;
        let mut out = GzEncoder::new(BufWriter::new(file), Compression::fast());
        let failed = out.write_all(MAGIC).err();
        Ok(Recorder {
            out,
            raw: Vec::with_capacity(RAW_CHUNK),
            data: 0,
            failed,
            path: path.to_path_buf(),
            files: Default::default(),
            dirs: Default::default(),
            inexact: None,
        })
    }

    /// The next entry writes `target` in the layer (a whiteout: the path it
    /// removes), a directory or not. An entry that replaces or removes a file
    /// whose content the record reads back (or a directory above one) means
    /// the directory no longer holds that content: the record says so instead
    /// of giving a wrong tar later.
    pub fn entry(&mut self, target: &Path, is_dir: bool) {
        if self.inexact.is_none() && (self.files.contains(target) || (!is_dir && self.dirs.contains(target))) {
            self.inexact = Some(format!("it writes {} twice", target.display()));
        }
    }

    /// Bytes of the stream that are not file content.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.flush_data();
        self.raw.extend_from_slice(bytes);
        if self.raw.len() >= RAW_CHUNK {
            self.flush_raw();
        }
    }

    /// The next `runs` of content belong to `path` (inside the layer).
    pub fn file(&mut self, path: &Path, runs: &[Run]) {
        self.flush_data();
        self.flush_raw();
        self.files.insert(path.to_path_buf());
        for parent in path.ancestors().skip(1).filter(|p| !p.as_os_str().is_empty()) {
            if !self.dirs.insert(parent.to_path_buf()) {
                break;
            }
        }
        let name = path.as_os_str().as_bytes();
        let Ok(len) = u16::try_from(name.len()) else {
            // Longer than any path the writer creates (PATH_MAX): keep its content raw.
            return self.fail(io::Error::other("a path longer than 64 KiB"));
        };
        let mut record = vec![b'F'];
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(name);
        record.extend_from_slice(&(runs.len() as u32).to_le_bytes());
        for r in runs {
            record.extend_from_slice(&r.offset.to_le_bytes());
            record.extend_from_slice(&r.length.to_le_bytes());
        }
        self.write(&record);
    }

    /// `n` bytes of the current file's content went by.
    pub fn data(&mut self, n: u64) {
        self.flush_raw();
        self.data += n;
    }

    /// End the record; the first write error, if any.
    pub fn finish(mut self) -> Result<(), TarSplitError> {
        if let Some(reason) = self.inexact.take() {
            // Only the reason is kept: the layer is used as it is, but never written out again.
            drop(self.out);
            let mut out = GzEncoder::new(BufWriter::new(File::create(&self.path).map_err(TarSplitError::Write)?), Compression::fast());
            let mut record = MAGIC.to_vec();
            record.push(b'X');
            record.extend_from_slice(&(reason.len() as u32).to_le_bytes());
            record.extend_from_slice(reason.as_bytes());
            out.write_all(&record).map_err(TarSplitError::Write)?;
            let file = out.finish().map_err(TarSplitError::Write)?.into_inner().map_err(|e| TarSplitError::Write(e.into_error()))?;
            return file.sync_all().map_err(TarSplitError::Write);
        }
        self.flush_data();
        self.flush_raw();
        self.write(b"E");
        if let Some(e) = self.failed.take() {
            return Err(TarSplitError::Write(e));
        }
        let buffered = self.out.finish().map_err(TarSplitError::Write)?;
        let file = buffered.into_inner().map_err(|e| TarSplitError::Write(e.into_error()))?;
        file.sync_all().map_err(TarSplitError::Write)
    }

    fn flush_data(&mut self) {
        if self.data > 0 {
            let mut record = vec![b'D'];
            record.extend_from_slice(&self.data.to_le_bytes());
            self.data = 0;
            self.write(&record);
        }
    }

    /// Raw bytes as records: zero runs of 64 bytes or more as `Z`, the rest as `R`.
    fn flush_raw(&mut self) {
        if self.raw.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut self.raw);
        let (mut i, mut start) = (0, 0);
        while i < raw.len() {
            if raw[i] != 0 {
                i += 1;
                continue;
            }
            let run = raw[i..].iter().take_while(|b| **b == 0).count();
            if run >= 64 {
                self.raw_record(&raw[start..i]);
                let mut record = vec![b'Z'];
                record.extend_from_slice(&(run as u64).to_le_bytes());
                self.write(&record);
                start = i + run;
            }
            i += run;
        }
        self.raw_record(&raw[start..]);
        self.raw = raw;
        self.raw.clear();
    }

    fn raw_record(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            let mut record = vec![b'R'];
            record.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            record.extend_from_slice(bytes);
            self.write(&record);
        }
    }

    fn write(&mut self, record: &[u8]) {
        if self.failed.is_none()
            && let Err(e) = self.out.write_all(record)
        {
            self.fail(e);
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.failed.get_or_insert(e);
    }
}

/// Write the tar stream `split` (a record) and `layer` (the unpacked directory)
/// give to `out`: (its sha256, its size in bytes). The caller compares the
/// digest with the diff id.
pub fn reassemble(split: &Path, layer: &Path, out: impl Write) -> Result<(Digest, u64), TarSplitError> {
    let root = rustix::fs::open(layer, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| TarSplitError::Content { file: layer.display().to_string(), source: e.into() })?;
    let mut out = HashingWriter::new(BufWriter::with_capacity(1 << 20, out));
    let consumed = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Cold files come from disk one after another: ask the kernel for the next
        // ones while this thread copies, up to PREFETCH_BYTES ahead.
        scope.spawn(|| prefetch(split, root.as_fd(), &consumed, &done));
        // The prefetcher stops when the copy ends, however it ends.
        let _stop = SetOnDrop(&done);
        copy_records(split, root.as_fd(), &mut out, &consumed)
    })?;
    out.inner.flush().map_err(TarSplitError::Out)?;
    let (digest, written, _) = out.finish();
    Ok((digest, written))
}

/// How far ahead of the copy the prefetcher asks for file content.
const PREFETCH_BYTES: u64 = 64 << 20;

struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One record of the file; a raw record's bytes are left in the reader.
enum Record {
    Raw(u64),
    Zeros(u64),
    File { path: PathBuf, runs: Vec<Run> },
    Data(u64),
    End,
}

/// Reads a record file one record at a time.
struct Records {
    path: PathBuf,
    rec: BufReader<GzDecoder<BufReader<File>>>,
}

impl Records {
    fn open(split: &Path) -> Result<Records, TarSplitError> {
        let file = File::open(split).map_err(|e| damaged(split, e.to_string()))?;
        let mut rec = BufReader::new(GzDecoder::new(BufReader::new(file)));
        let mut magic = vec![0u8; MAGIC.len()];
        rec.read_exact(&mut magic).map_err(|e| damaged(split, e.to_string()))?;
        if magic != MAGIC {
            return Err(damaged(split, "not a tar-split record".into()));
        }
        Ok(Records { path: split.to_path_buf(), rec })
    }

    fn next(&mut self) -> Result<Record, TarSplitError> {
        let path = self.path.clone();
        let bad = |e: io::Error| damaged(&path, e.to_string());
        let rec = &mut self.rec;
        let mut tag = [0u8; 1];
        rec.read_exact(&mut tag).map_err(|e| damaged(&path, format!("ends before its end record ({e})")))?;
        Ok(match tag[0] {
            b'R' => Record::Raw(read_u32(rec).map_err(bad)? as u64),
            b'Z' => Record::Zeros(read_u64(rec).map_err(bad)?),
            b'F' => {
                let len = read_u16(rec).map_err(bad)? as usize;
                let mut name = vec![0u8; len];
                rec.read_exact(&mut name).map_err(bad)?;
                let count = read_u32(rec).map_err(bad)?;
                let mut runs = Vec::new();
                for _ in 0..count {
                    let offset = read_u64(rec).map_err(bad)?;
                    runs.push(Run { offset, length: read_u64(rec).map_err(bad)? });
                }
                Record::File { path: PathBuf::from(std::ffi::OsStr::from_bytes(&name)), runs }
            }
            b'D' => Record::Data(read_u64(rec).map_err(bad)?),
            b'E' => Record::End,
            b'X' => {
                let len = read_u32(rec).map_err(bad)? as usize;
                let mut reason = vec![0u8; len.min(4096)];
                rec.read_exact(&mut reason).map_err(bad)?;
                return Err(TarSplitError::NotReproducible(String::from_utf8_lossy(&reason).into_owned()));
            }
            other => return Err(damaged(&path, format!("unknown record type {other:#x}"))),
        })
    }

    /// Copy (or, with `io::sink()`, skip) a raw record's `len` bytes.
    fn raw(&mut self, len: u64, out: &mut impl Write) -> Result<(), TarSplitError> {
        let copied = io::copy(&mut (&mut self.rec).take(len), out).map_err(TarSplitError::Out)?;
        if copied != len { Err(damaged(&self.path, "a raw record is cut short".into())) } else { Ok(()) }
    }
}

fn damaged(path: &Path, message: String) -> TarSplitError {
    TarSplitError::Damaged { path: path.to_path_buf(), message }
}

fn copy_records(split: &Path, root: BorrowedFd<'_>, out: &mut impl Write, consumed: &AtomicU64) -> Result<(), TarSplitError> {
    let mut records = Records::open(split)?;
    let mut current: Option<Content> = None;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match records.next()? {
            Record::Raw(len) => records.raw(len, out)?,
            Record::Zeros(n) => {
                buf.fill(0);
                let mut n = n;
                while n > 0 {
                    let step = n.min(buf.len() as u64) as usize;
                    out.write_all(&buf[..step]).map_err(TarSplitError::Out)?;
                    n -= step as u64;
                }
            }
            Record::File { path, runs } => current = Some(Content { path, runs, file: None, run: 0, within: 0 }),
            Record::Data(n) => {
                let content = current.as_mut().ok_or_else(|| damaged(split, "content without a file".into()))?;
                content.copy(root, n, &mut buf, out)?;
                consumed.fetch_add(n, Ordering::Relaxed);
            }
            Record::End => return Ok(()),
        }
    }
}

/// Open the files the record will read, in order, and advise the kernel to
/// read them in (`POSIX_FADV_WILLNEED`), staying at most PREFETCH_BYTES ahead
/// of `consumed`, until `done`. Best effort: errors are for the copy to report.
fn prefetch(split: &Path, root: BorrowedFd<'_>, consumed: &AtomicU64, done: &AtomicBool) {
    let Ok(mut records) = Records::open(split) else { return };
    let mut requested: u64 = 0;
    while !done.load(Ordering::Relaxed) {
        let (path, runs) = match records.next() {
            Ok(Record::File { path, runs }) => (path, runs),
            Ok(Record::Raw(len)) => {
                if records.raw(len, &mut io::sink()).is_err() {
                    return;
                }
                continue;
            }
            Ok(Record::End) | Err(_) => return,
            Ok(_) => continue,
        };
        let size: u64 = runs.iter().map(|r| r.length).sum();
        if size == 0 {
            continue;
        }
        while requested > consumed.load(Ordering::Relaxed) + PREFETCH_BYTES {
            if done.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if let Ok(file) = open_regular(root, &path) {
            for run in &runs {
                let _ = rustix::fs::fadvise(&file, run.offset, std::num::NonZeroU64::new(run.length), rustix::fs::Advice::WillNeed);
            }
        }
        requested += size;
    }
}

/// Open `path` inside the layer for reading: resolved in-root, never a FIFO,
/// device or socket (opened non-blocking, then checked), so a layer can neither
/// stall a save nor feed it a device's bytes.
fn open_regular(root: BorrowedFd<'_>, path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = rustix::fs::openat2(root, path, flags, Mode::empty(), ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS)?;
    let stat = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(File::from(fd))
}

/// The file whose content is being read back, and where in its runs.
struct Content {
    path: PathBuf,
    runs: Vec<Run>,
    file: Option<File>,
    run: usize,
    within: u64,
}

impl Content {
    fn copy(&mut self, root: BorrowedFd<'_>, mut n: u64, buf: &mut [u8], out: &mut impl Write) -> Result<(), TarSplitError> {
        let shown = || self.path.display().to_string();
        if self.file.is_none() {
            self.file = Some(open_regular(root, &self.path).map_err(|source| TarSplitError::Content { file: shown(), source })?);
        }
        let file = self.file.as_mut().expect("opened");
        while n > 0 {
            let Some(run) = self.runs.get(self.run) else {
                return Err(TarSplitError::Content { file: self.path.display().to_string(), source: io::Error::other("more content than its runs hold") });
            };
            if self.within == run.length {
                self.run += 1;
                self.within = 0;
                continue;
            }
            let step = n.min(run.length - self.within).min(buf.len() as u64) as usize;
            file.seek(SeekFrom::Start(run.offset + self.within)).map_err(|e| TarSplitError::Content { file: self.path.display().to_string(), source: e })?;
            file.read_exact(&mut buf[..step]).map_err(|e| TarSplitError::Content { file: self.path.display().to_string(), source: e })?;
            out.write_all(&buf[..step]).map_err(TarSplitError::Out)?;
            self.within += step as u64;
            n -= step as u64;
        }
        Ok(())
    }
}

fn read_u16(r: &mut impl Read) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}
