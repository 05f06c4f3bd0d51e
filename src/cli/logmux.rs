//! Several containers' logs printed side by side, each line prefixed with its
//! container (`web-1  | `) in a color of its own: what `rde logs` and a
//! foreground `up` print.

use crate::runtime::logs::{LogLine, LogReader};
use crate::runtime::state::{ContainerRecord, Containers};
use std::io::Write;

/// ANSI colors for prefixes, in docker compose's order.
const COLORS: [anstyle::AnsiColor; 6] = {
    use anstyle::AnsiColor::*;
    [Cyan, Yellow, Green, Magenta, Blue, Red]
};

/// `--since` and `--until` (docker's forms: a duration ago such as `10m`, RFC 3339, a local
/// date or time, unix seconds): the lines a log command shows, by the time they were written.
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    /// Unix seconds, inclusive.
    pub since: Option<f64>,
    /// Unix seconds, exclusive.
    pub until: Option<f64>,
}

impl Window {
    pub fn parse(since: Option<&str>, until: Option<&str>) -> anyhow::Result<Window> {
        let now = now_seconds();
        let at = |flag: &str, text: &str| crate::time::parse_timestamp(text, now).map_err(|e| anyhow::anyhow!("invalid {flag} {text:?}: {e}"));
        Ok(Window { since: since.map(|s| at("--since", s)).transpose()?, until: until.map(|u| at("--until", u)).transpose()? })
    }

    pub fn contains(&self, line: &LogLine) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        // The line's time with its fraction: whole seconds put a line written late in a second
        // before an --until given later in that second.
        let Ok(t) = crate::time::parse_timestamp(&line.time, 0.0) else { return true };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    /// Whether following can stop: `--until` has passed.
    pub fn over(&self) -> bool {
        self.until.is_some_and(|u| now_seconds() >= u)
    }
}

/// Unix time with its fraction: `--until 0s` means this instant, not the start of this second.
fn now_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

/// A line written in pieces (docker's partial entries) is printed whole up to this size.
const HELD_LINE_LIMIT: usize = 1 << 20;

/// Several containers' logs read side by side, printed with prefixes. A line
/// the log holds in pieces (longer than 16 KiB) is printed once whole, with one
/// prefix: its pieces are held until its end arrives, the source goes quiet
/// for a round, 1 MiB is held, or the mux is dropped.
pub struct LogMux {
    sources: Vec<(String, LogReader)>,
    /// Per source: the pieces of an unfinished line.
    held: Vec<Option<LogLine>>,
    width: usize,
    prefix: bool,
    color: bool,
    timestamps: bool,
    window: Window,
}

impl LogMux {
    pub fn open(containers: &Containers, project: &str, records: &[ContainerRecord], prefix: bool, color: bool, timestamps: bool) -> anyhow::Result<LogMux> {
        let mut sources = Vec::new();
        for r in records {
            // `shop-web-1` is shown as `web-1`, as docker compose does.
            let label = r.name.strip_prefix(&format!("{project}-")).unwrap_or(&r.name).to_string();
            sources.push((label, LogReader::open(&containers.log_path(&r.id))?));
        }
        let width = sources.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let held = vec![None; sources.len()];
        Ok(LogMux { sources, held, width, prefix, color, timestamps, window: Window::default() })
    }

    /// Show only lines in `window` (`--since`, `--until`).
    pub fn with_window(mut self, window: Window) -> LogMux {
        self.window = window;
        self
    }

    /// Everything written so far in the window (the last `n` lines of each).
    pub fn tail(&mut self, n: Option<usize>) -> Vec<(usize, LogLine)> {
        let mut out = Vec::new();
        let window = self.window;
        for (i, (_, reader)) in self.sources.iter_mut().enumerate() {
            let mut lines: Vec<LogLine> = if window.since.is_none() && window.until.is_none() {
                reader.tail(n)
            } else {
                let mut all: Vec<LogLine> = reader.tail(None).into_iter().filter(|l| window.contains(l)).collect();
                all.drain(..all.len().saturating_sub(n.unwrap_or(usize::MAX)));
                all
            };
            out.extend(lines.drain(..).map(|l| (i, l)));
        }
        out
    }

    /// Print what arrived since the last call; whether anything did.
    pub fn print_available(&mut self) -> bool {
        let mut lines = Vec::new();
        for (i, (_, reader)) in self.sources.iter_mut().enumerate() {
            lines.extend(reader.read_available().into_iter().filter(|l| self.window.contains(l)).map(|l| (i, l)));
        }
        lines.sort_by(|a, b| a.1.time.cmp(&b.1.time));
        self.print(&lines);
        !lines.is_empty()
    }

    /// Print `lines` (source index, entry); pieces of a line are joined.
    /// Lines held from an earlier call whose source sent nothing now are printed too.
    pub fn print(&mut self, lines: &[(usize, LogLine)]) {
        let mut out = std::io::stdout().lock();
        let mut active = vec![false; self.sources.len()];
        for (i, line) in lines {
            active[*i] = true;
            let whole = match self.held[*i].take() {
                Some(mut held) => {
                    held.log.push_str(&line.log);
                    held
                }
                None => line.clone(),
            };
            if whole.log.ends_with('\n') || whole.log.len() >= HELD_LINE_LIMIT {
                self.write_line(&mut out, *i, &whole);
            } else {
                self.held[*i] = Some(whole);
            }
        }
        for (i, active) in active.into_iter().enumerate() {
            if !active {
                self.release(&mut out, i);
            }
        }
        let _ = out.flush();
    }

    fn release(&mut self, out: &mut impl Write, i: usize) {
        if let Some(line) = self.held[i].take() {
            self.write_line(out, i, &line);
        }
    }

    fn write_line(&self, out: &mut impl Write, i: usize, line: &LogLine) {
        let mut text = String::new();
        if self.prefix {
            let label = format!("{:<width$} | ", self.sources[i].0, width = self.width);
            text = crate::output::paint(self.color, COLORS[i % COLORS.len()], &label);
        }
        if self.timestamps {
            text.push_str(&line.time);
            text.push(' ');
        }
        text.push_str(&line.log);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let _ = out.write_all(text.as_bytes());
    }
}

impl Drop for LogMux {
    /// What is still held (output that ended without a newline) is printed.
    fn drop(&mut self) {
        let mut out = std::io::stdout().lock();
        for i in 0..self.held.len() {
            self.release(&mut out, i);
        }
        let _ = out.flush();
    }
}
