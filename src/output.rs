//! The one printer for everything a user reads: status lines, warnings, errors,
//! tables, JSON, progress bars. Commands never print with `println!` directly.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone)]
pub struct Printer {
    quiet: bool,
    /// Progress bars only when stderr is a terminal; plain lines otherwise.
    bars: Option<MultiProgress>,
    /// Whether stderr (steps, warnings, errors) may carry colors.
    color_err: bool,
    /// Whether stdout (results, logs) may carry colors.
    color_out: bool,
}

/// How project commands show their steps (docker compose's `--progress`, `COMPOSE_PROGRESS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStyle {
    /// A block redrawn in place (`[+] Running 2/3`) when stderr is a terminal, else lines.
    Auto,
    /// The block, terminal or not.
    Tty,
    /// One line per change.
    Plain,
    /// Nothing.
    Quiet,
}

impl std::str::FromStr for StepStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<StepStyle, String> {
        Ok(match s {
            "auto" => StepStyle::Auto,
            "tty" => StepStyle::Tty,
            "plain" => StepStyle::Plain,
            "quiet" => StepStyle::Quiet,
            other => return Err(format!("invalid progress {other:?}; hint: use auto, tty, plain or quiet")),
        })
    }
}

static STEP_STYLE: std::sync::OnceLock<StepStyle> = std::sync::OnceLock::new();
static BARS: std::sync::OnceLock<MultiProgress> = std::sync::OnceLock::new();
/// The redrawn block: its header and one line per object, by `kind name`.
static BLOCK: std::sync::Mutex<Option<Block>> = std::sync::Mutex::new(None);

struct Block {
    header: ProgressBar,
    items: Vec<(String, ProgressBar, bool)>,
}

/// Sets the step style for the whole process; call once, early.
pub fn set_step_style(style: StepStyle) {
    let _ = STEP_STYLE.set(style);
}

/// The one set of bars every printer draws into (stderr, 10 Hz).
fn shared_bars() -> MultiProgress {
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10))).clone()
}

/// Ends the step block: what is still going is drawn as it is and left there (call before
/// other output takes the terminal, and at exit).
pub fn finish_steps() {
    if let Some(block) = BLOCK.lock().unwrap_or_else(|e| e.into_inner()).take() {
        // Abandoned bars stay drawn as they are (dropped ones would be erased).
        block.header.abandon();
        for (_, bar, _) in &block.items {
            bar.abandon();
        }
    }
}

/// When to print ANSI colors, for the whole process (docker compose's
/// `--ansi never|always|auto`, also read from `COMPOSE_ANSI`). Call once, early;
/// printers made before keep their choice.
pub fn set_ansi(choice: anstream::ColorChoice) {
    choice.write_global();
}

/// Whether `stream` may carry colors. The `--ansi` choice wins; in `auto`,
/// anstream's rules: `NO_COLOR` set means no, then `CLICOLOR_FORCE` means yes,
/// then `CLICOLOR=0` or `TERM=dumb` mean no, else only if the stream is a terminal.
/// Decided per stream: `rde logs > file` from a terminal writes no escapes.
pub fn colors<S: anstream::stream::RawStream>(stream: &S) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
}

impl Printer {
    pub fn new(quiet: bool) -> Printer {
        let tty = std::io::stderr().is_terminal();
        let color_err = colors(&std::io::stderr());
        let color_out = colors(&std::io::stdout());
        let bars = (tty && !quiet).then(shared_bars);
        Printer { quiet, bars, color_err, color_out }
    }

    /// A progress line (suppressed by `-q`).
    pub fn status(&self, msg: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(msg.as_ref());
            }
            None => {
                let _ = writeln!(std::io::stdout().lock(), "{}", msg.as_ref());
            }
        }
    }

    /// One step of a project command, as docker compose shows them on stderr:
    /// ` ✔ Container shop-db-1  Started`.
    pub fn step(&self, kind: &str, name: &str, state: &str) {
        if self.quiet {
            return;
        }
        let done = matches!(
            state,
            "Created"
                | "Started"
                | "Running"
                | "Healthy"
                | "Exited"
                | "Stopped"
                | "Removed"
                | "Recreated"
                | "Restarted"
                | "Killed"
                | "Pulled"
                | "Paused"
                | "Unpaused"
        );
        let mark = match done {
            true => paint(self.color_err, anstyle::AnsiColor::Green, "✔"),
            false => " ".into(),
        };
        let style = STEP_STYLE.get().copied().unwrap_or(StepStyle::Auto);
        match style {
            StepStyle::Quiet => {}
            StepStyle::Tty => self.block_step(&shared_bars(), kind, name, state, &mark, done),
            StepStyle::Auto if self.bars.is_some() => self.block_step(self.bars.as_ref().expect("bars"), kind, name, state, &mark, done),
            _ => self.stderr_line(&format!(" {mark} {kind} {name}  {state}")),
        }
    }

    /// The step in the redrawn block: its line updated (with its elapsed time), the header's count.
    fn block_step(&self, bars: &MultiProgress, kind: &str, name: &str, state: &str, mark: &str, done: bool) {
        let mut guard = BLOCK.lock().unwrap_or_else(|e| e.into_inner());
        let block = guard.get_or_insert_with(|| {
            let header = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("[+] {msg}").expect("valid template"));
            let header = bars.add(header);
            Block { header, items: Vec::new() }
        });
        let key = format!("{kind} {name}");
        let index = match block.items.iter().position(|(k, ..)| *k == key) {
            Some(i) => i,
            None => {
                let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template(" {msg:<60} {prefix:>6}").expect("valid template"));
                block.items.push((key, bars.add(bar), true));
                block.items.len() - 1
            }
        };
        let (_, bar, finished) = &mut block.items[index];
        let spinner = if done { mark.to_string() } else { paint(self.color_err, anstyle::AnsiColor::Blue, "⠿") };
        bar.set_message(format!("{spinner} {kind} {name}  {state}"));
        if done {
            // The time it took, frozen.
            bar.set_prefix(format!("{:.1}s", bar.elapsed().as_secs_f64()));
            bar.set_style(ProgressStyle::with_template(" {msg:<60} {prefix:>6}").expect("valid template"));
            bar.disable_steady_tick();
            bar.tick();
        } else if *finished {
            let seconds = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}s", state.elapsed().as_secs_f64());
            };
            bar.set_style(ProgressStyle::with_template(" {msg:<60} {seconds:>6}").expect("valid template").with_key("seconds", seconds));
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        *finished = done;
        let finished = block.items.iter().filter(|(_, _, d)| *d).count();
        block.header.set_message(format!("Running {finished}/{}", block.items.len()));
        block.header.tick();
    }

    /// Whether the command's output on stdout (logs) may carry ANSI colors; see [`colors`].
    pub fn color(&self) -> bool {
        self.color_out
    }

    /// The command's result, printed even with `-q`.
    pub fn result(&self, msg: impl AsRef<str>) {
        let _ = writeln!(std::io::stdout().lock(), "{}", msg.as_ref());
    }

    /// A line for the user that is not the command's output (stderr, as docker's "Unable to find image").
    pub fn notice(&self, msg: impl AsRef<str>) {
        self.stderr_line(msg.as_ref());
    }

    pub fn warn(&self, msg: impl AsRef<str>) {
        let prefix = paint(self.color_err, anstyle::AnsiColor::Yellow, "WARNING");
        self.stderr_line(&format!("{prefix}: {}", msg.as_ref()));
    }

    pub fn error(&self, msg: impl AsRef<str>) {
        let prefix = paint(self.color_err, anstyle::AnsiColor::Red, "Error");
        let text = msg.as_ref();
        // Keep a hint on its own line, where the eye finds it.
        match text.split_once("; hint: ") {
            Some((err, hint)) => self.stderr_line(&format!("{prefix}: {err}\nhint: {hint}")),
            None => self.stderr_line(&format!("{prefix}: {text}")),
        }
    }

    fn stderr_line(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.suspend(|| writeln!(std::io::stderr().lock(), "{line}"));
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
        }
    }

    /// A byte-progress bar for one download; a no-op without a terminal.
    pub fn progress(&self, label: &str, total: u64) -> Progress {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix}: {msg:<12} [{bar:30}] {bytes:>9}/{total_bytes:<9}").expect("valid template").progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar.set_message("Waiting");
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, label: label.to_string(), printer: self.clone() }
    }

    /// Clears the terminal on stdout and puts the cursor top left (a redrawn live view).
    pub fn clear_screen(&self) {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b[2J\x1b[H");
        let _ = out.flush();
    }

    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        self.result(table(headers, rows).trim_end());
    }

    pub fn json(&self, value: &serde_json::Value) {
        self.result(serde_json::to_string_pretty(value).expect("JSON values serialise"));
    }
}

/// An error and its causes on one line, each cause once (a message that already embeds its
/// source does not repeat it): `cannot remove network x: device busy`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    for cause in std::iter::successors(Some(e), |c| c.source()) {
        let msg = cause.to_string();
        if !text.contains(&msg) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&msg);
        }
    }
    text
}

/// `text` in `color` when `enabled`, else as is.
pub fn paint(enabled: bool, color: anstyle::AnsiColor, text: &str) -> String {
    if enabled {
        let style = color.on_default();
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// One layer's bar, or plain status lines when there is no terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    printer: Printer,
}

impl Progress {
    pub fn set_message(&self, msg: &'static str) {
        match &self.bar {
            Some(bar) => bar.set_message(msg),
            None => self.printer.status(format!("{}: {msg}", self.label)),
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    pub fn reset(&self) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
        }
    }

    pub fn finish(&self, msg: &str) {
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                self.printer.status(format!("{}: {msg}", self.label));
            }
            None => self.printer.status(format!("{}: {msg}", self.label)),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish_and_clear();
        }
    }
}

/// Columns padded to their widest cell, three spaces apart, as docker prints them.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Sizes as docker prints them: SI units, three significant digits (`7.81MB`, `125MB`).
pub fn human_size(bytes: u64) -> String {
    scaled(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB"])
}

/// Binary units, as docker's memory columns: `1.49MiB`, `7.66GiB`.
pub fn human_size_binary(bytes: u64) -> String {
    scaled(bytes, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"])
}

fn scaled(bytes: u64, step: f64, units: &[&str; 7]) -> String {
    const UNITS_LEN: usize = 7;
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 999.5 && unit < UNITS_LEN - 1 {
        value /= step;
        unit += 1;
    }
    let digits = if value >= 99.95 || unit == 0 {
        0
    } else if value >= 9.995 {
        1
    } else {
        2
    };
    let mut text = format!("{value:.digits$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{text}{}", units[unit])
}

/// "3 days ago", as docker's `CREATED` column.
pub fn human_ago(then_unix: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    format!("{} ago", human_duration(Duration::from_secs((now - then_unix).max(0) as u64)))
}

pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let plural = |n: u64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    match s {
        0 => "Less than a second".into(),
        1..=59 => plural(s, "second"),
        60..=119 => "About a minute".into(),
        120..=3599 => plural(s / 60, "minute"),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => plural(s / 3600, "hour"),
        172_800..=1_209_599 => plural(s / 86_400, "day"),
        1_209_600..=5_183_999 => plural(s / 604_800, "week"),
        5_184_000..=63_071_999 => plural(s / 2_592_000, "month"),
        _ => plural(s / 31_536_000, "year"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_are_decided_per_stream() {
        let env = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if env("CLICOLOR_FORCE") || env("NO_COLOR") || std::env::var("TERM").map_or(true, |t| t == "dumb") || std::env::var("CLICOLOR").is_ok_and(|v| v == "0")
        {
            return; // the environment decides, not the stream
        }
        // A file or a pipe gets no colors, a terminal does: stdout redirected
        // while stderr is a terminal colors only stderr.
        let file = std::fs::File::create(tempfile::tempdir().unwrap().path().join("out")).unwrap();
        assert!(!colors(&file));
        let pty = nix::pty::openpty(None, None).unwrap();
        assert!(colors(&std::fs::File::from(pty.slave)));
        assert_eq!(paint(true, anstyle::AnsiColor::Green, "ok"), "\x1b[32mok\x1b[0m");
        assert_eq!(paint(false, anstyle::AnsiColor::Green, "ok"), "ok");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(7_812_345), "7.81MB");
        assert_eq!(human_size(125_400_000), "125MB");
        assert_eq!(human_size(1_010_000_000), "1.01GB");
        assert_eq!(human_size(12_300_000), "12.3MB");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(Duration::from_secs(0)), "Less than a second");
        assert_eq!(human_duration(Duration::from_secs(1)), "1 second");
        assert_eq!(human_duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(3 * 86_400)), "3 days");
        assert_eq!(human_duration(Duration::from_secs(3 * 604_800)), "3 weeks");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()], vec!["z".into(), "".into()]]);
        assert_eq!(t, "A     BB\nxxx   y\nz     \n");
    }
}
