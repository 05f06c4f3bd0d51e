use super::*;
use std::os::unix::fs::PermissionsExt;

fn entries(path: &Path) -> Vec<LogLine> {
    LogReader::open(path).unwrap().tail(None)
}

fn texts(lines: &[LogLine]) -> Vec<&str> {
    lines.iter().map(|l| l.log.as_str()).collect()
}

fn rotating(max_size: u64, max_file: u32) -> LogOptions {
    LogOptions { max_size: Some(max_size), max_file }
}

#[test]
fn lines_split_across_reads_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, LogOptions::default());
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
    assert!(LogReader::open(&path).unwrap().tail(Some(0)).is_empty());
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
}

#[test]
fn a_40_mb_line_is_written_in_16k_pieces_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut line = b"abcdefghijklmnop".repeat((40 << 20) / 16);
    line.push(b'\n');
    let started = std::time::Instant::now();
    let mut w = LogWriter::open(&path, LogOptions::default());
    for chunk in line.chunks(64 * 1024) {
        w.write("stdout", chunk);
        assert!(w.streams[0].bytes.capacity() <= MAX_ENTRY, "memory stays bounded");
    }
    w.flush_partial("stdout");
    // Quadratic copying of 40 MB in 64 KiB reads would take minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
    let lines = entries(&path);
    assert_eq!(lines.len(), (40 << 20) / MAX_ENTRY + 1);
    let (last, pieces) = lines.split_last().unwrap();
    assert!(pieces.iter().all(|l| l.log.len() == MAX_ENTRY && !l.log.ends_with('\n')));
    // docker's copier: the line is exactly a multiple of its buffer, so the newline comes alone.
    assert_eq!(last.log, "\n");
    assert!(lines.iter().all(|l| l.time == lines[0].time), "the pieces share the first piece's time");
    assert!(lines.iter().map(|l| l.log.as_bytes()).eq(line.chunks(MAX_ENTRY)), "the entries concatenate to the line");
}

#[test]
fn pieces_follow_dockers_buffer_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, LogOptions::default());
    // A line that fits the buffer with its newline is one entry.
    let fits = format!("{}\n", "x".repeat(MAX_ENTRY - 1));
    w.write("stdout", fits.as_bytes());
    // One byte more: a full piece, then the newline.
    let over = format!("{}\n", "y".repeat(MAX_ENTRY));
    for b in over.as_bytes().chunks(1000) {
        w.write("stdout", b);
    }
    // Lines around a partial one are untouched; the streams do not mix.
    w.write("stderr", "e".repeat(MAX_ENTRY + 5).as_bytes());
    w.write("stdout", b"a\nb\n");
    w.write("stderr", b"\n");
    let lines = entries(&path);
    let got: Vec<(&str, usize, bool)> = lines.iter().map(|l| (l.stream.as_str(), l.log.len(), l.log.ends_with('\n'))).collect();
    assert_eq!(
        got,
        [
            ("stdout", MAX_ENTRY, true),
            ("stdout", MAX_ENTRY, false),
            ("stdout", 1, true),
            ("stderr", MAX_ENTRY, false),
            ("stdout", 2, true),
            ("stdout", 2, true),
            ("stderr", 6, true),
        ]
    );
}

#[test]
fn pieces_end_on_utf8_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, LogOptions::default());
    // Offsets 0..4 put the 16 KiB boundary inside 2-, 3- and 4-byte characters.
    let mut all = String::new();
    for (offset, ch) in [(1, "é"), (1, "€"), (2, "€"), (1, "😀"), (2, "😀"), (3, "😀")] {
        let text = format!("{}{}\n", "a".repeat(offset), ch.repeat(3 * MAX_ENTRY / ch.len()));
        for chunk in text.as_bytes().chunks(4093) {
            w.write("stdout", chunk);
        }
        all.push_str(&text);
    }
    let lines = entries(&path);
    for l in &lines {
        assert!(!l.log.contains('\u{FFFD}'), "a character was split");
        assert!((MAX_ENTRY - 3..=MAX_ENTRY).contains(&l.log.len()) || l.log.ends_with('\n'), "{}", l.log.len());
    }
    assert_eq!(lines.iter().map(|l| l.log.as_str()).collect::<String>(), all);
    // Bytes that are not UTF-8 are cut anywhere and shown replaced, as before.
    let path = dir.path().join("binary.log");
    let mut w = LogWriter::open(&path, LogOptions::default());
    w.write("stdout", &[0xff; MAX_ENTRY + 10]);
    w.flush_partial("stdout");
    let lines = entries(&path);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].log.chars().count(), MAX_ENTRY);
    assert!(lines[1].log.chars().all(|c| c == '\u{FFFD}'));
}

#[test]
fn utf8_cuts() {
    assert_eq!(utf8_cut(b"abc"), 3);
    assert_eq!(utf8_cut("aé".as_bytes()), 3);
    assert_eq!(utf8_cut(&"aé".as_bytes()[..2]), 1);
    assert_eq!(utf8_cut(&"a😀".as_bytes()[..4]), 1);
    assert_eq!(utf8_cut("a😀".as_bytes()), 5);
    assert_eq!(utf8_cut(&[0x80, 0x80, 0x80, 0x80, 0x80]), 5);
    assert_eq!(utf8_cut(&[]), 0);
}

/// Write `n` numbered lines of about 60 bytes each.
fn numbered(w: &mut LogWriter, from: usize, n: usize) {
    for i in from..from + n {
        w.write("stdout", format!("line {i:05} ........................\n").as_bytes());
    }
}

fn numbers(lines: &[LogLine]) -> Vec<usize> {
    lines.iter().map(|l| l.log[5..10].parse().unwrap()).collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn rotation_keeps_max_file_files_of_max_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, rotating(1000, 3));
    numbered(&mut w, 0, 200);
    assert_eq!(files(dir.path()), ["ctr.log", "ctr.log.1", "ctr.log.2"]);
    let entry = 120; // one JSON entry of these lines, a little less
    for name in ["ctr.log.1", "ctr.log.2"] {
        let meta = std::fs::metadata(dir.path().join(name)).unwrap();
        // docker's rule: rotate once the file has reached max-size, so by at most one entry more.
        assert!(meta.len() >= 1000 && meta.len() < 1000 + entry, "{name}: {}", meta.len());
        assert_eq!(meta.permissions().mode() & 0o777, 0o640, "{name}");
    }
    assert!(std::fs::metadata(&path).unwrap().len() < 1000 + entry);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    // Oldest first, contiguous, up to the last line.
    let got = numbers(&entries(&path));
    assert_eq!(*got.last().unwrap(), 199);
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
    assert!(got.len() > 16 && got.len() <= 30, "{}", got.len());
    let tail = numbers(&LogReader::open(&path).unwrap().tail(Some(20)));
    assert_eq!(tail, (180..200).collect::<Vec<_>>());
    // A new writer (a restart) goes on with the file's size.
    drop(w);
    let before = std::fs::read(dir.path().join("ctr.log.1")).unwrap();
    let mut w = LogWriter::open(&path, rotating(1000, 3));
    numbered(&mut w, 200, 20);
    assert_ne!(std::fs::read(dir.path().join("ctr.log.1")).unwrap(), before, "it rotated");
    assert_eq!(*numbers(&entries(&path)).last().unwrap(), 219);
}

#[test]
fn one_file_is_started_anew() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, rotating(1000, 1));
    numbered(&mut w, 0, 100);
    assert_eq!(files(dir.path()), ["ctr.log"]);
    let got = numbers(&entries(&path));
    assert_eq!(*got.last().unwrap(), 99);
    assert!(got.len() <= 10, "{}", got.len());
    // Without max-size the log grows.
    let path = dir.path().join("big.log");
    let mut w = LogWriter::open(&path, LogOptions { max_size: None, max_file: 3 });
    numbered(&mut w, 0, 100);
    assert_eq!(entries(&path).len(), 100);
}

#[test]
fn a_follower_reads_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, rotating(1000, 4));
    let mut r = LogReader::open(&path).unwrap();
    let mut seen = Vec::new();
    let mut next = 0;
    // Between two reads: no rotation, one, two, three (the most that 4 files keep).
    for n in [3, 5, 12, 20, 28, 1, 30, 2] {
        numbered(&mut w, next, n);
        next += n;
        seen.extend(numbers(&r.read_available()));
        assert_eq!(seen, (0..next).collect::<Vec<_>>());
    }
    // More rotations than files kept: the rest of the file being read (still
    // open), then what the rotated files still hold, in order, nothing twice.
    numbered(&mut w, next, 100);
    let got = numbers(&r.read_available());
    assert_eq!(*got.last().unwrap(), next + 99);
    assert_eq!(got[0], next);
    assert!(got.windows(2).all(|w| w[1] > w[0]), "{got:?}");
    assert_eq!(got.windows(2).filter(|w| w[1] != w[0] + 1).count(), 1, "one gap: the files removed before we read them: {got:?}");
    assert!(r.read_available().is_empty());
    // The same with one file: each rotation removes it.
    let path = dir.path().join("one.log");
    let mut w = LogWriter::open(&path, rotating(500, 1));
    let mut r = LogReader::open(&path).unwrap();
    let mut seen = Vec::new();
    for start in 0..20 {
        numbered(&mut w, start * 3, 3);
        seen.extend(numbers(&r.read_available()));
    }
    assert_eq!(seen, (0..60).collect::<Vec<_>>());
}

#[test]
fn unfinished_records_wait_for_their_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    std::fs::write(&path, "").unwrap();
    let mut r = LogReader::open(&path).unwrap();
    let record = br#"{"log":"hi\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}"#;
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&record[..20]).unwrap();
    assert!(r.read_available().is_empty());
    f.write_all(&record[20..]).unwrap();
    assert!(r.read_available().is_empty());
    f.write_all(b"\nnot json\n").unwrap();
    assert_eq!(texts(&r.read_available()), ["hi\n"]);
    // A record far longer than any rde writes is skipped.
    f.write_all(&vec![b'x'; MAX_RECORD + 10]).unwrap();
    assert!(r.read_available().is_empty());
    f.write_all(b"\n").unwrap();
    f.write_all(record).unwrap();
    f.write_all(b"\n").unwrap();
    assert_eq!(texts(&r.read_available()), ["hi\n"]);
}

#[test]
fn human_sizes_as_docker_reads_them() {
    assert_eq!(parse_human_size("10m"), Some(10_000_000));
    assert_eq!(parse_human_size("1k"), Some(1000));
    assert_eq!(parse_human_size("10KiB"), Some(10_000));
    assert_eq!(parse_human_size("2 MB"), Some(2_000_000));
    assert_eq!(parse_human_size("1.5g"), Some(1_500_000_000));
    assert_eq!(parse_human_size("512"), Some(512));
    assert_eq!(parse_human_size("512b"), Some(512));
    for bad in ["", "m", "10x", "10mx", "10kbb", "-1m", "1e3"] {
        assert_eq!(parse_human_size(bad), None, "{bad}");
    }
}

#[test]
fn driver_options() {
    let opts = |driver: &str, pairs: &[(&str, &str)]| LogOptions::from_driver_options(driver, pairs.iter().copied());
    assert_eq!(opts("json-file", &[]).unwrap(), (LogOptions::default(), vec![]));
    assert_eq!(opts("json-file", &[("max-size", "10k"), ("max-file", "2")]).unwrap(), (rotating(10_000, 2), vec![]));
    assert_eq!(opts("json-file", &[("compress", "true"), ("tag", "x")]).unwrap().1, ["compress", "tag"]);
    assert_eq!(opts("json-file", &[("compress", "false")]).unwrap().1, Vec::<&str>::new());
    assert_eq!(opts("local", &[]).unwrap().0, rotating(20 << 20, 5));
    assert_eq!(opts("local", &[("max-file", "3")]).unwrap().0, rotating(20 << 20, 3));
    assert!(matches!(opts("local", &[("tag", "x")]), Err(LogOptionError::Unknown { .. })));
    assert!(matches!(opts("json-file", &[("max-size", "0")]), Err(LogOptionError::Size(_))));
    assert!(matches!(opts("json-file", &[("max-file", "0")]), Err(LogOptionError::FileCount(_))));
    assert!(matches!(opts("json-file", &[("compress", "yes")]), Err(LogOptionError::Compress(_))));
    assert!(matches!(opts("json-file", &[("max-buffer-size", "1m")]), Err(LogOptionError::Unknown { .. })));
    let flags = |f: &[&str]| LogOptions::from_flags(&f.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(flags(&["max-size=1m", "max-file=3"]).unwrap().0, rotating(1_000_000, 3));
    assert!(matches!(flags(&["max-size"]), Err(LogOptionError::Syntax(_))));
    // Records written before the field existed read as no rotation.
    let old: LogOptions = serde_json::from_str("{}").unwrap();
    assert_eq!(old, LogOptions::default());
}
