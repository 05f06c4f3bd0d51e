//! Reading a layer tar entry by entry: the framing of ustar, GNU and PAX archives
//! (GNU long names, PAX records, sparse files), with each header's fields parsed
//! by `tar::Header`.
//!
//! The layer writer does not use the `tar` crate's `Archive` because it reads a
//! sparse file's holes as zeros (a 100 GiB hole is 100 GiB of reads and, written
//! out, of disk) and does not know PAX sparse files at all. Here every sparse
//! format GNU tar writes (old GNU `S` entries, PAX 0.0, 0.1 and 1.0) becomes a map
//! of [`Extent`]s, so holes are skipped with a seek and never read or written.
//!
//! The rules are Go's `archive/tar`, which docker and containerd unpack layers
//! with, so that a layer means the same thing to rde as to them: PAX `path`,
//! `linkpath` and `size` override the header, a GNU long name overrides PAX
//! `path`, `GNU.sparse.name` overrides both; link, symlink, device, directory and
//! fifo entries carry no data whatever their size field says; a type `\0` entry
//! whose name ends in `/` is a directory. Bounds: GNU long names and PAX headers
//! are at most 1 MiB (Go's limit), a sparse map at most [`MAX_SPARSE_EXTENTS`]
//! runs, and no entry yields more data than its header declares.

use crate::image::tar_split::{Recorder, Run};
use std::io::{self, Read};
use std::path::Path;

const BLOCK: u64 = 512;
/// GNU long names and PAX headers: Go's archive/tar refuses larger ones too.
const MAX_META_BYTES: u64 = 1 << 20;
/// Runs of data in one sparse file's map (16 bytes each in memory).
const MAX_SPARSE_EXTENTS: usize = 1 << 20;

/// `length` bytes of an entry's data that belong at `offset` of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Extent {
    pub offset: u64,
    pub length: u64,
}

/// One entry, its extension headers folded in.
pub(super) struct Entry {
    /// The entry's own header (type `\0` named `.../` already turned into a directory).
    pub header: tar::Header,
    pub path: Vec<u8>,
    /// Link target (hardlinks and symlinks); empty otherwise.
    pub link: Vec<u8>,
    /// The entry's PAX records, in order.
    pub pax: Vec<(String, Vec<u8>)>,
    /// A regular file's size: its data, or a sparse file's real size. 0 otherwise.
    pub size: u64,
    /// A regular file's data, run by run, in file order: one run for a plain file,
    /// the sparse map for a sparse one (what lies between runs is a hole).
    pub extents: Vec<Extent>,
}

/// A tar stream read one entry at a time; [`Read`] yields the current entry's data.
pub(super) struct TarReader<R> {
    inner: R,
    /// Bytes of the stream consumed so far, for error messages.
    pos: u64,
    /// Data of the current entry not read yet, then the padding to the next block.
    remaining: u64,
    padding: u64,
    /// The tar-split record being written, when asked for.
    split: Option<Recorder>,
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the layer tar ends in the middle of an entry")
}

fn is_header_only(kind: tar::EntryType) -> bool {
    use tar::EntryType as T;
    matches!(kind, T::Link | T::Symlink | T::Char | T::Block | T::Directory | T::Fifo)
}

/// Types whose data is the file's content (`\0`, `0`, `7`; `S` is handled apart).
fn is_regular(kind: tar::EntryType) -> bool {
    matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous)
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// A decimal number as PAX records and the 1.0 sparse map write them.
fn decimal(value: &[u8], what: &str) -> io::Result<u64> {
    std::str::from_utf8(value)
        .ok()
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad(format!("{what} is not a number: {:?}", String::from_utf8_lossy(value))))
}

/// Up to the first NUL, as tar reads names.
fn c_string(bytes: &[u8]) -> Vec<u8> {
    bytes.split(|b| *b == 0).next().unwrap_or_default().to_vec()
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> TarReader<R> {
        TarReader { inner, pos: 0, remaining: 0, padding: 0, split: None }
    }

    /// Record the stream's framing into `recorder` as it is read (see `tar_split`).
    pub fn with_split(inner: R, recorder: Recorder) -> TarReader<R> {
        TarReader { split: Some(recorder), ..TarReader::new(inner) }
    }

    /// The next entry writes (or, a whiteout, removes) `target` in the layer.
    pub fn split_entry(&mut self, target: &Path, is_dir: bool) {
        if let Some(rec) = &mut self.split {
            rec.entry(target, is_dir);
        }
    }

    /// The current entry's content is the file `path` of the layer, in `runs`.
    pub fn split_file(&mut self, path: &Path, runs: &[Extent]) {
        if let Some(rec) = &mut self.split {
            let runs: Vec<Run> = runs.iter().map(|e| Run { offset: e.offset, length: e.length }).collect();
            rec.file(path, &runs);
        }
    }

    /// After the last entry: read (and record) what follows the end of the
    /// archive, then close the record.
    pub fn finish_split(mut self) -> io::Result<Option<Recorder>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match self.inner.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.pos += n as u64;
            if let Some(rec) = &mut self.split {
                rec.raw(&buf[..n]);
            }
        }
        Ok(self.split.take())
    }

    /// The next entry, after skipping whatever the caller left of the current
    /// one's data; `None` at the end of the archive (a zero block, or the end of
    /// the stream between entries), leaving what follows unread.
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        self.skip(self.remaining + self.padding)?;
        self.remaining = 0;
        self.padding = 0;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Vec<(String, Vec<u8>)>> = None;
        loop {
            let at = self.pos;
            let Some(header) = self.read_header()? else {
                if long_name.is_some() || long_link.is_some() || pax.is_some() {
                    return Err(bad(format!("the extension header before byte {at} describes no entry")));
                }
                return Ok(None);
            };
            let size = header.entry_size().map_err(|e| bad(format!("header at byte {at}: {e}")))?;
            let once = |slot: bool, what: &str| if slot { Err(bad(format!("two {what} headers for one entry at byte {at}"))) } else { Ok(()) };
            match header.entry_type().as_byte() {
                b'L' => {
                    once(long_name.is_some(), "GNU long name")?;
                    long_name = Some(c_string(&self.read_meta(size, "a GNU long name")?));
                }
                b'K' => {
                    once(long_link.is_some(), "GNU long link")?;
                    long_link = Some(c_string(&self.read_meta(size, "a GNU long link name")?));
                }
                b'x' => {
                    once(pax.is_some(), "PAX")?;
                    pax = Some(parse_pax(&self.read_meta(size, "a PAX header")?, at)?);
                }
                // Global PAX headers describe the archive; docker ignores them too.
                b'g' => self.skip(size + padding(size))?,
                _ => return self.entry(header, size, at, long_name, long_link, pax.unwrap_or_default()).map(Some),
            }
        }
    }

    fn entry(
        &mut self,
        mut header: tar::Header,
        header_size: u64,
        at: u64,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        pax: Vec<(String, Vec<u8>)>,
    ) -> io::Result<Entry> {
        let record = |key: &str| pax.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice());
        for key in ["path", "linkpath"] {
            if record(key).is_some_and(|v| v.contains(&0)) {
                return Err(bad(format!("PAX {key} of the entry at byte {at} holds a NUL byte")));
            }
        }
        let mut path = long_name.or_else(|| record("path").map(<[u8]>::to_vec)).unwrap_or_else(|| header.path_bytes().into_owned());
        let link =
            long_link.or_else(|| record("linkpath").map(<[u8]>::to_vec)).or_else(|| header.link_name_bytes().map(|l| l.into_owned())).unwrap_or_default();
        let mut stored = match record("size") {
            Some(v) => decimal(v, "PAX size")?,
            None => header_size,
        };
        // The raw type byte: `tar::EntryType` reads `\0` as `0`.
        if header.as_bytes()[156] == 0 && path.ends_with(b"/") {
            header.set_entry_type(tar::EntryType::Directory);
        }
        let kind = header.entry_type();
        if is_header_only(kind) {
            stored = 0;
        }
        self.remaining = stored;
        self.padding = padding(stored);

        let is_sparse_pax = || pax.iter().any(|(k, _)| k.starts_with("GNU.sparse."));
        let display = || String::from_utf8_lossy(&path).into_owned();
        let sparse = if kind == tar::EntryType::GNUSparse {
            Some(self.old_gnu_sparse_map(&header, &display())?)
        } else if is_sparse_pax() {
            let display = display();
            self.pax_sparse_map(&pax, &mut path, &display)?
        } else {
            None
        };
        let (size, extents) = match sparse {
            Some((real_size, map)) => {
                let display = String::from_utf8_lossy(&path);
                if !is_regular(kind) && kind != tar::EntryType::GNUSparse {
                    return Err(bad(format!("{display:?} has a sparse map but is not a regular file")));
                }
                check_sparse_map(&map, real_size, self.remaining, &display)?;
                (real_size, map)
            }
            None if is_regular(kind) => (self.remaining, vec![Extent { offset: 0, length: self.remaining }]),
            None => (0, Vec::new()),
        };
        Ok(Entry { header, path, link, pax, size, extents })
    }

    /// The map of an old GNU sparse entry: up to 4 runs in the header, 21 more in
    /// each extension block that follows it (before the data).
    fn old_gnu_sparse_map(&mut self, header: &tar::Header, display: &str) -> io::Result<(u64, Vec<Extent>)> {
        let gnu = header.as_gnu().ok_or_else(|| bad(format!("{display:?} is a GNU sparse entry without a GNU header")))?;
        let real_size = gnu.real_size().map_err(|e| bad(format!("{display:?}: real size: {e}")))?;
        let mut map = Vec::new();
        let push = |map: &mut Vec<Extent>, runs: &[tar::GnuSparseHeader]| -> io::Result<()> {
            // GNU and Go stop at the first run whose offset field is empty.
            for run in runs.iter().take_while(|r| r.offset[0] != 0) {
                let field = |r: io::Result<u64>| r.map_err(|e| bad(format!("{display:?}: sparse map: {e}")));
                map.push(Extent { offset: field(run.offset())?, length: field(run.length())? });
            }
            if map.len() > MAX_SPARSE_EXTENTS {
                return Err(bad(format!("{display:?}: the sparse map has more than {MAX_SPARSE_EXTENTS} runs")));
            }
            Ok(())
        };
        push(&mut map, &gnu.sparse)?;
        let mut extended = gnu.is_extended();
        while extended {
            let mut ext = tar::GnuExtSparseHeader::new();
            self.read_exact_counted(ext.as_mut_bytes())?;
            push(&mut map, &ext.sparse)?;
            extended = ext.is_extended();
        }
        Ok((real_size, map))
    }

    /// The map of a PAX sparse file (GNU formats 0.0, 0.1 and 1.0), renaming the
    /// entry to `GNU.sparse.name`; `None` when the records describe no sparse file.
    fn pax_sparse_map(&mut self, pax: &[(String, Vec<u8>)], path: &mut Vec<u8>, display: &str) -> io::Result<Option<(u64, Vec<Extent>)>> {
        let record = |key: &str| pax.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice());
        // GNU 0.0 repeats offset/numbytes records; Go folds them into a 0.1 map.
        let mut pairs = Vec::new();
        for (key, value) in pax {
            let want_offset = pairs.len() % 2 == 0;
            match key.as_str() {
                "GNU.sparse.offset" | "GNU.sparse.numbytes" => {
                    if want_offset != (key == "GNU.sparse.offset") {
                        return Err(bad(format!("{display:?}: GNU.sparse.offset and GNU.sparse.numbytes records out of order")));
                    }
                    pairs.push(decimal(value, "GNU.sparse.offset/numbytes")?);
                }
                _ => {}
            }
        }
        let map_record = record("GNU.sparse.map").filter(|m| !m.is_empty());
        let version_1 = match (record("GNU.sparse.major"), record("GNU.sparse.minor")) {
            (Some(b"0"), Some(b"0" | b"1")) => false,
            (Some(b"1"), Some(b"0")) => true,
            // An unknown version: Go leaves the entry as it is, and so do we.
            (Some(_), _) | (_, Some(_)) => return Ok(None),
            (None, None) if map_record.is_some() || !pairs.is_empty() => false,
            (None, None) => return Ok(None),
        };
        if let Some(name) = record("GNU.sparse.name") {
            if name.contains(&0) {
                return Err(bad(format!("{display:?}: GNU.sparse.name holds a NUL byte")));
            }
            *path = name.to_vec();
        }
        let real_size = match record("GNU.sparse.size").or_else(|| record("GNU.sparse.realsize")) {
            Some(v) => decimal(v, "GNU.sparse.size")?,
            None => self.remaining,
        };
        let map = if version_1 {
            self.sparse_map_1x0(display)?
        } else {
            let numbers = match map_record {
                Some(text) => text.split(|b| *b == b',').map(|n| decimal(n, "GNU.sparse.map")).collect::<io::Result<Vec<u64>>>()?,
                None => pairs,
            };
            let count = match record("GNU.sparse.numblocks") {
                Some(n) => decimal(n, "GNU.sparse.numblocks")?,
                None => (numbers.len() / 2) as u64,
            };
            if numbers.len() % 2 != 0 || count != (numbers.len() / 2) as u64 {
                return Err(bad(format!("{display:?}: the sparse map does not hold GNU.sparse.numblocks runs")));
            }
            if numbers.len() / 2 > MAX_SPARSE_EXTENTS {
                return Err(bad(format!("{display:?}: the sparse map has more than {MAX_SPARSE_EXTENTS} runs")));
            }
            numbers.chunks(2).map(|p| Extent { offset: p[0], length: p[1] }).collect()
        };
        Ok(Some((real_size, map)))
    }

    /// Format 1.0 keeps the map at the start of the data: decimal numbers, one a
    /// line (the run count, then offset and length of each run), padded to a block.
    fn sparse_map_1x0(&mut self, display: &str) -> io::Result<Vec<Extent>> {
        let mut text: Vec<u8> = Vec::new();
        let mut next = |reader: &mut Self| -> io::Result<u64> {
            loop {
                if let Some(end) = text.iter().position(|b| *b == b'\n') {
                    let n = decimal(&text[..end], "a sparse map entry").map_err(|e| bad(format!("{display:?}: {e}")))?;
                    text.drain(..=end);
                    return Ok(n);
                }
                // A u64 has at most 20 digits: anything longer is not a map.
                if text.len() > 20 {
                    return Err(bad(format!("{display:?}: malformed sparse map")));
                }
                if reader.remaining < BLOCK {
                    return Err(bad(format!("{display:?}: the sparse map runs past the entry's data")));
                }
                let mut block = [0u8; BLOCK as usize];
                reader.read_exact_counted(&mut block)?;
                reader.remaining -= BLOCK;
                text.extend_from_slice(&block);
            }
        };
        let count = next(self)?;
        if count > MAX_SPARSE_EXTENTS as u64 {
            return Err(bad(format!("{display:?}: the sparse map has more than {MAX_SPARSE_EXTENTS} runs")));
        }
        let mut map = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let offset = next(self)?;
            map.push(Extent { offset, length: next(self)? });
        }
        Ok(map)
    }

    /// The body of an extension header (long name, PAX records), bounded.
    fn read_meta(&mut self, size: u64, what: &str) -> io::Result<Vec<u8>> {
        if size > MAX_META_BYTES {
            return Err(bad(format!("{what} of {size} bytes at byte {} (at most {MAX_META_BYTES})", self.pos)));
        }
        let mut body = vec![0u8; size as usize];
        self.read_exact_counted(&mut body)?;
        self.skip(padding(size))?;
        Ok(body)
    }

    /// One header block, checksum verified; `None` at the end of the archive.
    fn read_header(&mut self) -> io::Result<Option<tar::Header>> {
        let mut header = tar::Header::new_old();
        let block = header.as_mut_bytes();
        let mut filled = 0;
        while filled < block.len() {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(truncated()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let at = self.pos;
        self.pos += BLOCK;
        if let Some(rec) = &mut self.split {
            rec.raw(block);
        }
        if block == &[0u8; BLOCK as usize] {
            return Ok(None);
        }
        let recorded = header.cksum().map_err(|e| bad(format!("header at byte {at}: {e}")))?;
        // The sum of the bytes, the checksum field counted as spaces (the `tar`
        // crate computes it); old writers summed signed bytes.
        let mut computed = header.clone();
        computed.set_cksum();
        if computed.cksum().ok() != Some(recorded) {
            let field = 148..156;
            let signed: i32 = header.as_bytes().iter().enumerate().map(|(i, b)| if field.contains(&i) { 32 } else { i32::from(*b as i8) }).sum();
            if recorded as i32 != signed {
                return Err(bad(format!("header checksum mismatch at byte {at}")));
            }
        }
        Ok(Some(header))
    }

    fn read_exact_counted(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf).map_err(|e| if e.kind() == io::ErrorKind::UnexpectedEof { truncated() } else { e })?;
        self.pos += buf.len() as u64;
        if let Some(rec) = &mut self.split {
            rec.raw(buf);
        }
        Ok(())
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        if n < BLOCK {
            // Padding, after almost every entry.
            let mut pad = [0u8; BLOCK as usize];
            return self.read_exact_counted(&mut pad[..n as usize]);
        }
        if self.split.is_none() {
            let skipped = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
            self.pos += skipped;
            return if skipped < n { Err(truncated()) } else { Ok(()) };
        }
        // Recorded: what the caller skips is raw bytes of the stream.
        let mut buf = vec![0u8; n.min(64 * 1024) as usize];
        let mut left = n;
        while left > 0 {
            let step = left.min(buf.len() as u64) as usize;
            self.read_exact_counted(&mut buf[..step])?;
            left -= step as u64;
        }
        Ok(())
    }
}

impl<R: Read> Read for TarReader<R> {
    /// The current entry's data (after a 1.0 sparse map): exactly what its header
    /// declares, an error if the stream ends sooner.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        if n == 0 {
            return Err(truncated());
        }
        self.remaining -= n as u64;
        self.pos += n as u64;
        if let Some(rec) = &mut self.split {
            rec.data(n as u64);
        }
        Ok(n)
    }
}

fn parse_pax(body: &[u8], at: u64) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut records = Vec::new();
    for record in tar::PaxExtensions::new(body) {
        let record = record.map_err(|e| bad(format!("PAX header at byte {at}: {e}")))?;
        let key = record.key().map_err(|_| bad(format!("PAX header at byte {at}: a key is not UTF-8")))?;
        records.push((key.to_string(), record.value_bytes().to_vec()));
    }
    Ok(records)
}

/// Runs in order, not overlapping, inside the file, and together exactly the
/// stored data: nothing is written that the header does not account for.
fn check_sparse_map(map: &[Extent], real_size: u64, stored: u64, display: &str) -> io::Result<()> {
    let mut end = 0u64;
    let mut total = 0u64;
    for run in map {
        let run_end = run.offset.checked_add(run.length).filter(|e| *e <= real_size);
        match run_end {
            Some(run_end) if run.offset >= end => end = run_end,
            _ => {
                return Err(bad(format!(
                    "{display:?}: sparse run of {} bytes at {} overlaps another or lies past the file's size {real_size}",
                    run.length, run.offset
                )));
            }
        }
        total += run.length;
    }
    if total != stored {
        return Err(bad(format!("{display:?}: the sparse map holds {total} bytes of data but the entry stores {stored}")));
    }
    Ok(())
}
