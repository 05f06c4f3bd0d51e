//! Writing a regular file's data with holes, as `cp --sparse=always` does: the
//! runs of a sparse map are written at their offsets, blocks of zeros inside them
//! are skipped, and the file gets its size last. A layer of zeros (or a sparse
//! file declaring a huge size) then costs no disk, whatever it expands to.

use super::reader::Extent;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// Zero blocks at least this large, aligned in the file, become holes. Large
/// enough that files with scattered zero pages are still written in few calls.
pub(super) const HOLE_BLOCK: usize = 64 * 1024;

static ZEROS: [u8; HOLE_BLOCK] = [0; HOLE_BLOCK];

/// Whether `bytes` (at most `HOLE_BLOCK` long) are all zero; memcmp stops at the
/// first difference, so data costs a few bytes of comparison.
fn is_zero(bytes: &[u8]) -> bool {
    bytes == &ZEROS[..bytes.len()]
}

/// Write `extents` of `file` from `data` (their bytes in order, exactly
/// `sum(length)` of them), skipping zero blocks, then make the file `size` bytes
/// long. `file` must be new and empty; `buf` is scratch space. An error if `data`
/// ends early.
pub(super) fn write_extents(data: &mut impl Read, file: &File, extents: &[Extent], size: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut end = 0u64;
    for extent in extents {
        let mut at = extent.offset;
        let mut left = extent.length;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            data.read_exact(&mut buf[..want])?;
            if let Some(written_end) = write_nonzero(file, &buf[..want], at)? {
                end = written_end;
            }
            at += want as u64;
            left -= want as u64;
        }
    }
    // A file that ends in a hole (or is all hole) has its size from here.
    if end < size {
        file.set_len(size)?;
    }
    Ok(())
}

/// Write the parts of `chunk` (which belongs at `offset`) that are not whole
/// zero blocks, coalescing neighbours into one write; returns where the last
/// write ended, if anything was written.
fn write_nonzero(file: &File, chunk: &[u8], offset: u64) -> io::Result<Option<u64>> {
    let mut written_end = None;
    let mut run_start: Option<usize> = None;
    let mut i = 0;
    while i < chunk.len() {
        // Blocks are aligned to the file, so holes line up with filesystem blocks.
        let to_boundary = HOLE_BLOCK - ((offset + i as u64) % HOLE_BLOCK as u64) as usize;
        let next = chunk.len().min(i + to_boundary);
        if is_zero(&chunk[i..next]) {
            if let Some(start) = run_start.take() {
                file.write_all_at(&chunk[start..i], offset + start as u64)?;
                written_end = Some(offset + i as u64);
            }
        } else if run_start.is_none() {
            run_start = Some(i);
        }
        i = next;
    }
    if let Some(start) = run_start {
        file.write_all_at(&chunk[start..], offset + start as u64)?;
        written_end = Some(offset + chunk.len() as u64);
    }
    Ok(written_end)
}
