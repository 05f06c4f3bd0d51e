//! Container logs: JSON lines as docker's json-file driver writes them,
//! `{"log":"text\n","stream":"stdout","time":"2026-11-22T01:02:03.456789012Z"}`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Appends lines per stream; a line split across reads is kept until its newline.
pub struct LogWriter {
    file: Option<File>,
    partial: [(&'static str, Vec<u8>); 2],
}

impl LogWriter {
    pub fn open(path: &Path) -> LogWriter {
        let file = OpenOptions::new().create(true).append(true).open(path).ok();
        LogWriter { file, partial: [("stdout", Vec::new()), ("stderr", Vec::new())] }
    }

    fn buffer(&mut self, stream: &str) -> &mut Vec<u8> {
        let i = if stream == "stdout" { 0 } else { 1 };
        &mut self.partial[i].1
    }

    pub fn write(&mut self, stream: &'static str, bytes: &[u8]) {
        let mut pending = std::mem::take(self.buffer(stream));
        pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(nl) = pending[start..].iter().position(|b| *b == b'\n') {
            out.push(line(stream, &pending[start..=start + nl]));
            start += nl + 1;
        }
        *self.buffer(stream) = pending[start..].to_vec();
        self.append(&out);
    }

    /// The stream ended: write what is left without its newline.
    pub fn flush_partial(&mut self, stream: &'static str) {
        let rest = std::mem::take(self.buffer(stream));
        if !rest.is_empty() {
            self.append(&[line(stream, &rest)]);
        }
    }

    fn append(&mut self, lines: &[String]) {
        if let (Some(file), false) = (&mut self.file, lines.is_empty()) {
            let _ = file.write_all(lines.concat().as_bytes());
        }
    }
}

fn line(stream: &str, bytes: &[u8]) -> String {
    let entry = LogLine { log: String::from_utf8_lossy(bytes).into_owned(), stream: stream.to_string(), time: crate::output::now_rfc3339() };
    serde_json::to_string(&entry).expect("log lines serialise") + "\n"
}

/// Reads a log, optionally following it as it grows.
pub struct LogReader {
    reader: BufReader<File>,
}

impl LogReader {
    pub fn open(path: &Path) -> std::io::Result<LogReader> {
        Ok(LogReader { reader: BufReader::new(File::open(path)?) })
    }

    /// The last `n` lines (all when `None`), leaving the reader at the end.
    pub fn tail(&mut self, n: Option<usize>) -> Vec<LogLine> {
        let mut lines: Vec<LogLine> = self.read_available();
        if let Some(n) = n {
            let skip = lines.len().saturating_sub(n);
            lines.drain(..skip);
        }
        lines
    }

    /// Complete lines written since the last call.
    pub fn read_available(&mut self) -> Vec<LogLine> {
        let mut out = Vec::new();
        loop {
            let mut raw = String::new();
            let pos = self.reader.stream_position().unwrap_or(0);
            match self.reader.read_line(&mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) if !raw.ends_with('\n') => {
                    // A line still being written: read it again next time.
                    let _ = self.reader.seek(SeekFrom::Start(pos));
                    break;
                }
                Ok(_) => {
                    if let Ok(line) = serde_json::from_str(&raw) {
                        out.push(line);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_reads_stay_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&path);
        w.write("stdout", b"hel");
        w.write("stderr", b"oops\n");
        w.write("stdout", b"lo\nwor");
        w.flush_partial("stdout");
        let mut r = LogReader::open(&path).unwrap();
        let lines = r.tail(None);
        let got: Vec<(&str, &str)> = lines.iter().map(|l| (l.stream.as_str(), l.log.as_str())).collect();
        assert_eq!(got, [("stderr", "oops\n"), ("stdout", "hello\n"), ("stdout", "wor")]);
        assert!(lines[0].time.ends_with('Z'));
        w.write("stdout", b"more\n");
        assert_eq!(r.read_available().len(), 1);
        assert_eq!(LogReader::open(&path).unwrap().tail(Some(2)).len(), 2);
    }
}
