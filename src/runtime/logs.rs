//! Container logs: JSON lines as docker's json-file driver writes them,
//! `{"log":"text\n","stream":"stdout","time":"2026-11-22T01:02:03.456789012Z"}`.
//!
//! The writer follows moby's log copier and json-file driver:
//! - a line longer than [`MAX_ENTRY`] (docker's 16 KiB copier buffer) is written
//!   as several entries; all but the last lack the trailing `\n` (docker's
//!   "partial" messages), so printing the entries one after the other gives the
//!   line back. The pieces of one line share the first piece's time, as docker's do.
//!   Output that ends without a newline is written as it is, without one.
//! - rotation (`max-size`, `max-file`): before an entry is written, a file that has
//!   reached `max-size` is renamed to `ctr.log.1` (`ctr.log.1` to `ctr.log.2`, ...,
//!   the oldest past `max-file - 1` removed; with `max-file` 1 it is removed) and a
//!   new `ctr.log` is started. So a file exceeds `max-size` by at most one entry.
//! - log files are created with mode 0640 (they may hold secrets).
//!
//! The reader reads the rotated files oldest first, then `ctr.log`, and when
//! following notices `ctr.log` being replaced (a new inode): it drains the old
//! file, then reads whatever was rotated since, then the new `ctr.log`.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The longest entry the writer makes, in bytes of output (docker's copier buffer).
pub const MAX_ENTRY: usize = 16 * 1024;

/// The mode of log files (docker's json-file: 0640).
pub const LOG_MODE: u32 = 0o640;

/// A record longer than this (a log not written by rde) is skipped by the reader.
const MAX_RECORD: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// What is serialised: [`LogLine`] without copies.
#[derive(serde::Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: &'a str,
}

/// How a container's log rotates, docker's json-file `max-size` and `max-file`
/// (`--log-opt`, compose `logging.options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogOptions {
    /// Rotate once the current file has reached this many bytes; `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// How many files are kept, the current one included (1: the full file is
    /// removed at rotation). Only meaningful with `max_size`.
    #[serde(default = "one")]
    pub max_file: u32,
}

fn one() -> u32 {
    1
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions { max_size: None, max_file: 1 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogOptionError {
    #[error("invalid log option {0:?}; hint: use KEY=VALUE, e.g. max-size=10m")]
    Syntax(String),
    #[error("invalid log option max-size={0:?}; hint: a positive size with an optional unit k, m, g (powers of 1000, as docker), e.g. 10m")]
    Size(String),
    #[error("invalid log option max-file={0:?}; hint: a whole number of files, at least 1")]
    FileCount(String),
    #[error("invalid log option compress={0:?}; hint: true or false")]
    Compress(String),
    #[error("unknown log option {key:?} for the {driver} log driver; hint: rde applies max-size and max-file")]
    Unknown { key: String, driver: String },
}

/// Options docker's json-file and local drivers accept that rde does not apply.
const NOT_APPLIED: [&str; 6] = ["compress", "tag", "labels", "labels-regex", "env", "env-regex"];

impl LogOptions {
    /// The options of docker's `json-file` (or `local`) driver: `max-size`
    /// ([`parse_human_size`]), `max-file` (at least 1, default 1), `compress`
    /// (a boolean, accepted and not applied: rotated files stay uncompressed),
    /// and for json-file `tag`, `labels`, `env` and their `-regex` forms (not
    /// applied). `local` defaults to docker's 20 MiB and 5 files. Returns the
    /// options and the keys given that rde does not apply (the caller warns);
    /// an unknown key or a bad value is an error, as docker refuses them.
    pub fn from_driver_options<'a>(
        driver: &str,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(LogOptions, Vec<&'static str>), LogOptionError> {
        let local = driver == "local";
        let mut out = if local { LogOptions { max_size: Some(20 << 20), max_file: 5 } } else { LogOptions::default() };
        let mut ignored = Vec::new();
        for (key, value) in options {
            match key {
                "max-size" => {
                    let size = parse_human_size(value).filter(|s| *s > 0).ok_or_else(|| LogOptionError::Size(value.to_string()))?;
                    out.max_size = Some(size);
                }
                "max-file" => {
                    out.max_file = value.trim().parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| LogOptionError::FileCount(value.to_string()))?;
                }
                "compress" => {
                    let on = parse_bool(value).ok_or_else(|| LogOptionError::Compress(value.to_string()))?;
                    if on {
                        ignored.push("compress");
                    }
                }
                k => match NOT_APPLIED.iter().find(|n| **n == k && !local) {
                    Some(name) => ignored.push(*name),
                    None => return Err(LogOptionError::Unknown { key: k.to_string(), driver: driver.to_string() }),
                },
            }
        }
        Ok((out, ignored))
    }

    /// `--log-opt KEY=VALUE` flags, for the json-file driver.
    pub fn from_flags(flags: &[String]) -> Result<(LogOptions, Vec<&'static str>), LogOptionError> {
        let mut pairs = Vec::new();
        for flag in flags {
            pairs.push(flag.split_once('=').ok_or_else(|| LogOptionError::Syntax(flag.clone()))?);
        }
        LogOptions::from_driver_options("json-file", pairs)
    }
}

/// Go's strconv.ParseBool, which docker uses for `compress`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A size as docker's json-file `max-size` reads it (go-units `FromHumanSize`):
/// a number, an optional space, then `b`, or `k`/`m`/`g`/`t`/`p` optionally
/// followed by `b` or `ib`, case-insensitive; the units are powers of 1000
/// (`10k` is 10000 bytes, `1m` 1000000), `10KiB` too. `None` when unreadable.
pub fn parse_human_size(text: &str) -> Option<u64> {
    let split = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (number, suffix) = if text.as_bytes()[split] == b' ' { (&text[..split], &text[split + 1..]) } else { (&text[..=split], &text[split + 1..]) };
    if !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let suffix = suffix.to_ascii_lowercase();
    let scale: f64 = match suffix.as_str() {
        "" | "b" => 1.0,
        _ => {
            let power = match suffix.as_bytes()[0] {
                b'k' => 1,
                b'm' => 2,
                b'g' => 3,
                b't' => 4,
                b'p' => 5,
                _ => return None,
            };
            if !matches!(&suffix[1..], "" | "b" | "ib") {
                return None;
            }
            1000f64.powi(power)
        }
    };
    let bytes = value * scale;
    (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// One stream's line in progress: at most [`MAX_ENTRY`] bytes.
struct Pending {
    name: &'static str,
    bytes: Vec<u8>,
    /// The time of the current line's first piece, once a piece was written.
    time: Option<String>,
}

/// Appends a container's output as entries, per stream (`stdout`, `stderr`),
/// rotating the file as its [`LogOptions`] say. Work and copying are linear in
/// the output; memory is [`MAX_ENTRY`] per stream. Write errors are dropped:
/// the container must not stall on its log.
pub struct LogWriter {
    path: PathBuf,
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    options: LogOptions,
    streams: [Pending; 2],
    /// Entries made by one `write`, written together.
    batch: Vec<u8>,
}

impl LogWriter {
    /// Append to `path` (created 0640 if missing; an existing file is set to 0640).
    pub fn open(path: &Path, options: LogOptions) -> LogWriter {
        let file = open_log(path, false).ok();
        let size = file.as_ref().and_then(|f| f.metadata().ok()).map_or(0, |m| m.len());
        let pending = |name| Pending { name, bytes: Vec::with_capacity(MAX_ENTRY), time: None };
        LogWriter { path: path.to_path_buf(), file, size, options, streams: [pending("stdout"), pending("stderr")], batch: Vec::new() }
    }

    fn index(stream: &str) -> usize {
        if stream == "stdout" { 0 } else { 1 }
    }

    /// Output read from `stream`: complete lines become entries, a line that
    /// reaches [`MAX_ENTRY`] bytes becomes a partial entry; the rest waits.
    pub fn write(&mut self, stream: &'static str, bytes: &[u8]) {
        let i = Self::index(stream);
        let mut rest = bytes;
        while !rest.is_empty() {
            let pending = &mut self.streams[i];
            let room = MAX_ENTRY - pending.bytes.len();
            let window = &rest[..room.min(rest.len())];
            match memchr::memchr(b'\n', window) {
                Some(nl) => {
                    pending.bytes.extend_from_slice(&window[..=nl]);
                    rest = &rest[nl + 1..];
                    self.emit(i, true);
                }
                None if window.len() < room => {
                    pending.bytes.extend_from_slice(window);
                    break;
                }
                None => {
                    pending.bytes.extend_from_slice(window);
                    rest = &rest[room..];
                    self.emit(i, false);
                }
            }
        }
        self.flush_batch();
    }

    /// The stream ended: write what is left, without a newline.
    pub fn flush_partial(&mut self, stream: &'static str) {
        let i = Self::index(stream);
        if !self.streams[i].bytes.is_empty() {
            self.emit(i, true);
        }
        self.flush_batch();
    }

    /// Make an entry of stream `i`'s pending bytes. `whole`: all of them (the
    /// line ended); else a partial piece cut at a UTF-8 boundary, the cut
    /// character's first bytes kept for the next piece.
    fn emit(&mut self, i: usize, whole: bool) {
        let pending = &mut self.streams[i];
        let cut = if whole { pending.bytes.len() } else { utf8_cut(&pending.bytes) };
        // The pieces of one line carry the time of its first piece, as docker's do.
        let time = pending.time.take().unwrap_or_else(crate::time::now_rfc3339);
        if !whole {
            pending.time = Some(time.clone());
        }
        let mut entry = Vec::with_capacity(cut + 96);
        let text = String::from_utf8_lossy(&pending.bytes[..cut]);
        serde_json::to_writer(&mut entry, &Entry { log: &text, stream: pending.name, time: &time }).expect("log entries serialise");
        entry.push(b'\n');
        pending.bytes.drain(..cut);
        self.append(&entry);
    }

    /// Queue an entry, rotating first when the file is full (docker's rule:
    /// the size is checked before each write).
    fn append(&mut self, entry: &[u8]) {
        if self.options.max_size.is_some_and(|max| self.size >= max) {
            self.flush_batch();
            self.rotate();
        }
        self.batch.extend_from_slice(entry);
        self.size += entry.len() as u64;
    }

    fn flush_batch(&mut self) {
        if let (Some(file), false) = (&mut self.file, self.batch.is_empty()) {
            let _ = file.write_all(&self.batch);
        }
        self.batch.clear();
    }

    /// Close the full file, shift the rotated ones (`ctr.log.1` -> `ctr.log.2`,
    /// the oldest removed), and start an empty `ctr.log`.
    fn rotate(&mut self) {
        self.file = None;
        let n = self.options.max_file.max(1);
        let numbered = |k: u32| PathBuf::from(format!("{}.{k}", self.path.display()));
        if n < 2 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = std::fs::remove_file(numbered(n - 1));
            for k in (2..n).rev() {
                let _ = std::fs::rename(numbered(k - 1), numbered(k));
            }
            let _ = std::fs::rename(&self.path, numbered(1));
        }
        self.file = open_log(&self.path, true).ok();
        self.size = 0;
    }
}

/// Open (create) a log file for appending, mode 0640.
fn open_log(path: &Path, truncate: bool) -> std::io::Result<File> {
    // After a rotation the name is free; if renaming failed, start over anyway (as docker does).
    let mut options = OpenOptions::new();
    if truncate {
        options.write(true).truncate(true);
    } else {
        options.append(true);
    }
    let file = options.create(true).mode(LOG_MODE).open(path)?;
    // An existing file (made with the container record, or by an older rde) gets the mode too;
    // failing that, logging goes on.
    if file.metadata().is_ok_and(|m| m.permissions().mode() & 0o7777 != LOG_MODE) {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(LOG_MODE));
    }
    Ok(file)
}

/// Where to cut `bytes` so that a multi-byte UTF-8 character at the end is not
/// split: before an incomplete last sequence, else at the end. Bytes that are
/// not UTF-8 anyway are cut anywhere.
fn utf8_cut(bytes: &[u8]) -> usize {
    let len = bytes.len();
    // The last sequence starts within the last 4 bytes, at a byte that is not a continuation.
    for back in 1..=len.min(4) {
        let b = bytes[len - back];
        if b & 0xC0 == 0x80 {
            continue;
        }
        let need = match b {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return len,
        };
        return if need > back { len - back } else { len };
    }
    len
}

/// One log file being read.
struct Source {
    reader: BufReader<File>,
    /// (device, inode): how a renamed file is recognised.
    id: (u64, u64),
    /// The start of a record whose newline has not been written yet.
    partial: Vec<u8>,
    /// Skipping a record longer than [`MAX_RECORD`] up to its newline.
    skipping: bool,
}

impl Source {
    fn open(path: &Path) -> std::io::Result<Source> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        Ok(Source { reader: BufReader::new(file), id: (meta.dev(), meta.ino()), partial: Vec::new(), skipping: false })
    }

    /// Parse every complete record up to the end of what is written; an
    /// unfinished record stays for the next call.
    fn read(&mut self, out: &mut dyn FnMut(LogLine)) {
        loop {
            let buf = match self.reader.fill_buf() {
                Ok([]) | Err(_) => return,
                Ok(buf) => buf,
            };
            let (taken, end) = match memchr::memchr(b'\n', buf) {
                Some(nl) => (nl + 1, true),
                None => (buf.len(), false),
            };
            if !self.skipping {
                self.partial.extend_from_slice(&buf[..taken - usize::from(end)]);
            }
            self.reader.consume(taken);
            if end {
                if !self.skipping
                    && let Ok(line) = serde_json::from_slice(&self.partial)
                {
                    out(line);
                }
                self.partial.clear();
                self.skipping = false;
            } else if self.partial.len() > MAX_RECORD {
                self.partial = Vec::new();
                self.skipping = true;
            }
        }
    }
}

/// Reads a container's log, rotated files first, optionally following it as
/// it grows and rotates.
pub struct LogReader {
    path: PathBuf,
    /// Files still to read, oldest first; the last is `ctr.log` as last opened.
    sources: VecDeque<Source>,
}

impl LogReader {
    /// Open the log at `path` (`ctr.log`) and its rotated files (`ctr.log.1`, ...).
    pub fn open(path: &Path) -> std::io::Result<LogReader> {
        let mut tries = 0;
        loop {
            // `ctr.log` is briefly missing while it rotates.
            match Source::open(path) {
                Ok(current) => {
                    let mut sources: VecDeque<Source> = rotated(path, None, current.id).into();
                    sources.push_back(current);
                    return Ok(LogReader { path: path.to_path_buf(), sources });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 5 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The last `n` entries (all when `None`), leaving the reader at the end.
    pub fn tail(&mut self, n: Option<usize>) -> Vec<LogLine> {
        let mut lines = VecDeque::new();
        self.read_each(&mut |line| {
            if n.is_some_and(|n| lines.len() >= n) {
                lines.pop_front();
            }
            if n != Some(0) {
                lines.push_back(line);
            }
        });
        lines.into()
    }

    /// Complete entries written since the last call, across rotations.
    pub fn read_available(&mut self) -> Vec<LogLine> {
        let mut out = Vec::new();
        self.read_each(&mut |line| out.push(line));
        out
    }

    fn read_each(&mut self, out: &mut dyn FnMut(LogLine)) {
        // A few rounds: the log may rotate again while we read.
        for _ in 0..8 {
            while self.sources.len() > 1 {
                let mut done = self.sources.pop_front().expect("non-empty");
                done.read(out);
            }
            let Some(current) = self.sources.back_mut() else { return };
            current.read(out);
            let now = match std::fs::metadata(&self.path) {
                Ok(m) => (m.dev(), m.ino()),
                // Mid-rotation: the next call sees the new file.
                Err(_) => return,
            };
            if now == current.id {
                return;
            }
            // Rotated: `current` is complete (the writer closes it first); what
            // was rotated after it, then the new `ctr.log`, follow.
            let mut old = self.sources.pop_back().expect("current");
            old.read(out);
            let Ok(next) = Source::open(&self.path) else { return };
            self.sources.extend(rotated(&self.path, Some(old.id), next.id));
            self.sources.push_back(next);
        }
    }
}

/// The rotated files of the log at `path`, oldest first: `ctr.log.N` ...
/// `ctr.log.1`; with `newer_than`, only those rotated after that file (all of
/// them when it is gone). `current` (the `ctr.log` already opened, which may
/// have just been rotated too) is left out. Opened at once, rescanned if a
/// rotation shifted them.
fn rotated(path: &Path, newer_than: Option<(u64, u64)>, current: (u64, u64)) -> Vec<Source> {
    let mut found = Vec::new();
    for _ in 0..4 {
        found.clear();
        for k in 1..10_000u32 {
            match Source::open(&PathBuf::from(format!("{}.{k}", path.display()))) {
                Ok(s) => found.push(s),
                Err(_) => break,
            }
        }
        let mut ids: Vec<(u64, u64)> = found.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() == found.len() {
            break;
        }
    }
    if let Some(k) = newer_than.and_then(|id| found.iter().position(|s| s.id == id)) {
        found.truncate(k);
    }
    found.retain(|s| s.id != current);
    found.reverse();
    found
}

#[cfg(test)]
mod tests;
