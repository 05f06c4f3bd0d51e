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
}

impl Recorder {
    /// Start a record in `file` (created or truncated).
    pub fn create(path: &Path) -> Result<Recorder, TarSplitError> {
        let file = File::create(path).map_err(TarSplitError::Write)?;
        let mut out = GzEncoder::new(BufWriter::new(file), Compression::fast());
        let failed = out.write_all(MAGIC).err();
        Ok(Recorder { out, raw: Vec::with_capacity(RAW_CHUNK), data: 0, failed })
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
    let records = parse(split)?;
    let root = rustix::fs::open(layer, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| TarSplitError::Content { file: layer.display().to_string(), source: e.into() })?;
    let mut out = HashingWriter::new(BufWriter::with_capacity(1 << 20, out));
    let consumed = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        // Cold files come from disk one after another: ask the kernel for the next
        // ones while this thread copies, up to PREFETCH_BYTES ahead.
        scope.spawn(|| prefetch(root.as_fd(), &records, &consumed, &done));
        let result = copy_records(root.as_fd(), &records, &mut out, &consumed);
        done.store(true, Ordering::Relaxed);
        result
    });
    result?;
    out.inner.flush().map_err(TarSplitError::Out)?;
    let (digest, written, _) = out.finish();
    Ok((digest, written))
}

/// How far ahead of the copy the prefetcher asks for file content.
const PREFETCH_BYTES: u64 = 64 << 20;

/// One record of the file, parsed.
enum Record {
    Raw(Vec<u8>),
    Zeros(u64),
    File { path: PathBuf, runs: Vec<Run> },
    Data(u64),
}

fn parse(split: &Path) -> Result<Vec<Record>, TarSplitError> {
    let damaged = |message: String| TarSplitError::Damaged { path: split.to_path_buf(), message };
    let file = File::open(split).map_err(|e| damaged(e.to_string()))?;
    let mut rec = BufReader::new(GzDecoder::new(BufReader::new(file)));
    let mut magic = vec![0u8; MAGIC.len()];
    rec.read_exact(&mut magic).map_err(|e| damaged(e.to_string()))?;
    if magic != MAGIC {
        return Err(damaged("not a tar-split record".into()));
    }
    let mut records = Vec::new();
    loop {
        let mut tag = [0u8; 1];
        rec.read_exact(&mut tag).map_err(|e| damaged(format!("ends before its end record ({e})")))?;
        let bad = |e: io::Error| damaged(e.to_string());
        records.push(match tag[0] {
            b'R' => {
                let len = read_u32(&mut rec).map_err(bad)? as usize;
                let mut bytes = vec![0u8; len];
                rec.read_exact(&mut bytes).map_err(|_| damaged("a raw record is cut short".into()))?;
                Record::Raw(bytes)
            }
            b'Z' => Record::Zeros(read_u64(&mut rec).map_err(bad)?),
            b'F' => {
                let len = read_u16(&mut rec).map_err(bad)? as usize;
                let mut name = vec![0u8; len];
                rec.read_exact(&mut name).map_err(bad)?;
                let count = read_u32(&mut rec).map_err(bad)?;
                let mut runs = Vec::new();
                for _ in 0..count {
                    let offset = read_u64(&mut rec).map_err(bad)?;
                    runs.push(Run { offset, length: read_u64(&mut rec).map_err(bad)? });
                }
                Record::File { path: PathBuf::from(std::ffi::OsStr::from_bytes(&name)), runs }
            }
            b'D' => Record::Data(read_u64(&mut rec).map_err(bad)?),
            b'E' => return Ok(records),
            other => return Err(damaged(format!("unknown record type {other:#x}"))),
        });
    }
}

fn copy_records(root: BorrowedFd<'_>, records: &[Record], out: &mut impl Write, consumed: &AtomicU64) -> Result<(), TarSplitError> {
    let mut current: Option<Content> = None;
    let mut buf = vec![0u8; 256 * 1024];
    for record in records {
        match record {
            Record::Raw(bytes) => out.write_all(bytes).map_err(TarSplitError::Out)?,
            Record::Zeros(n) => {
                buf.fill(0);
                let mut n = *n;
                while n > 0 {
                    let step = n.min(buf.len() as u64) as usize;
                    out.write_all(&buf[..step]).map_err(TarSplitError::Out)?;
                    n -= step as u64;
                }
            }
            Record::File { path, runs } => current = Some(Content { path: path.clone(), runs: runs.clone(), file: None, run: 0, within: 0 }),
            Record::Data(n) => {
                let content =
                    current.as_mut().ok_or_else(|| TarSplitError::Content { file: "?".into(), source: io::Error::other("content without a file") })?;
                content.copy(root, *n, &mut buf, out)?;
                consumed.fetch_add(*n, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// Open the files `records` will read, in order, and advise the kernel to read
/// them in (`POSIX_FADV_WILLNEED`), staying at most PREFETCH_BYTES ahead of
/// `consumed`. Best effort: errors are for the copy to report.
fn prefetch(root: BorrowedFd<'_>, records: &[Record], consumed: &AtomicU64, done: &AtomicBool) {
    let mut requested: u64 = 0;
    for record in records {
        let Record::File { path, runs } = record else { continue };
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
        if done.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(fd) = rustix::fs::openat2(root, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS) {
            for run in runs {
                let _ = rustix::fs::fadvise(&fd, run.offset, std::num::NonZeroU64::new(run.length), rustix::fs::Advice::WillNeed);
            }
        }
        requested += size;
    }
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
            let fd =
                rustix::fs::openat2(root, &self.path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS)
                    .map_err(|e| TarSplitError::Content { file: shown(), source: e.into() })?;
            self.file = Some(File::from(fd));
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
