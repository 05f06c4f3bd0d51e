//! What a build shows while it works, in BuildKit's shape: a numbered line per
//! step (`#3 [build 2/5] RUN pip install ...`), the step's output prefixed with
//! its number and seconds, then `#3 DONE 4.2s` or `#3 CACHED`. `plain` prints
//! every line (CI logs); `tty` keeps the running step's last lines in a live
//! view and prints only the step lines; `quiet` prints nothing but errors.

use crate::image::digest::Digest;
use crate::image::reference::Reference;
use crate::output::Printer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// `--progress auto|plain|tty|quiet` (`auto`: tty on a terminal, else plain).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressMode {
    #[default]
    Auto,
    Plain,
    Tty,
    Quiet,
}

impl std::str::FromStr for ProgressMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ProgressMode::Auto),
            "plain" | "rawjson" => Ok(ProgressMode::Plain),
            "tty" => Ok(ProgressMode::Tty),
            "quiet" => Ok(ProgressMode::Quiet),
            other => Err(format!("invalid --progress {other:?}; hint: auto, plain, tty or quiet")),
        }
    }
}

/// Lines of the running step kept for the live view and for a failure's message.
const KEEP_LINES: usize = 12;

pub struct BuildProgress<'a> {
    printer: &'a Printer,
    mode: ProgressMode,
    step_started: RefCell<Instant>,
    /// Put before every line (a service's name when compose builds several at once).
    prefix: String,
    live: Option<ProgressBar>,
    recent: RefCell<VecDeque<String>>,
}

impl<'a> BuildProgress<'a> {
    /// `prefix`: a name for every line (`django`), when several builds share the output.
    pub fn new(printer: &'a Printer, mode: ProgressMode, prefix: Option<&str>) -> BuildProgress<'a> {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Tty,
            ProgressMode::Auto => ProgressMode::Plain,
            m => m,
        };
        let prefix = prefix.map(|p| format!("{p} ")).unwrap_or_default();
        BuildProgress { printer, mode, prefix, step_started: RefCell::new(Instant::now()), live: None, recent: RefCell::new(VecDeque::new()) }
    }

    fn line(&self, text: &str) {
        if self.mode == ProgressMode::Quiet {
            return;
        }
        match &self.live {
            Some(bar) => bar.suspend(|| self.printer.notice(text)),
            None => self.printer.notice(text),
        }
    }

    /// A step begins.
    pub fn start(&mut self, step: usize, header: &str) {
        *self.step_started.borrow_mut() = Instant::now();
        self.recent.borrow_mut().clear();
        self.line(&format!("{}#{step} {header}", self.prefix));
        if self.mode == ProgressMode::Tty {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
            bar.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}").expect("valid template"));
            bar.enable_steady_tick(Duration::from_millis(125));
            self.live = Some(bar);
        }
    }

    /// A line of the running step's output.
    pub fn output(&self, step: usize, text: &str) {
        let text = text.trim_end_matches(['\n', '\r']);
        {
            let mut recent = self.recent.borrow_mut();
            if recent.len() == KEEP_LINES {
                recent.pop_front();
            }
            recent.push_back(text.to_string());
        }
        match (&self.live, self.mode) {
            (Some(bar), _) => bar.set_message(text.to_string()),
            (None, ProgressMode::Plain) => {
                let secs = self.step_started.borrow().elapsed().as_secs_f64();
                self.printer.notice(format!("{}#{step} {secs:.3} {text}", self.prefix));
            }
            _ => {}
        }
    }

    /// The running step's last output lines (for a failure's message).
    pub fn recent(&self) -> Vec<String> {
        self.recent.borrow().iter().cloned().collect()
    }

    /// The step ended (or was taken from the cache).
    pub fn done(&mut self, step: usize, elapsed: Duration, cached: bool) {
        if let Some(bar) = self.live.take() {
            bar.finish_and_clear();
        }
        if cached {
            self.line(&format!("{}#{step} CACHED", self.prefix));
        } else {
            self.line(&format!("{}#{step} DONE {:.1}s", self.prefix, elapsed.as_secs_f64()));
        }
    }

    /// The step failed: the live view goes.
    pub fn failed(&mut self) {
        if let Some(bar) = self.live.take() {
            bar.finish_and_clear();
        }
    }

    pub fn finish(&mut self, elapsed: Duration, id: &Digest, tags: &[Reference]) {
        self.failed();
        self.line(&format!("writing image {id} done ({:.1}s)", elapsed.as_secs_f64()));
        for t in tags {
            self.line(&format!("naming to {}", t.familiar()));
        }
    }
}
