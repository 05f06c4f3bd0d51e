//! Healthchecks, run by the shim as docker runs them: the test every
//! `interval`, killed after `timeout`; `retries` failures in a row make the
//! container unhealthy, failures within `start_period` do not count (a success
//! there ends it). Until the first success the test also runs every
//! `start_interval` (100 ms unless set), so a dependency is seen healthy as soon
//! as it is; those extra runs only count as failures once an `interval` has
//! passed since the last counted one, so `retries` keeps its meaning. Each check runs in a forked child that execs the test into
//! the container (libcontainer's tenant builder) and waits for it, so the
//! shim's loop never blocks; its output comes back on a pipe. The result goes
//! into the container's state, where `up --wait` and `depends_on` read it.

use super::state::{ContainerRecord, Containers};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// How much of a check's output is kept (docker keeps 4 KiB).
const OUTPUT_LIMIT: usize = 4096;
/// Results kept in the state (docker keeps 5).
const LOG_LENGTH: usize = 5;

/// A container's healthcheck, with docker's defaults filled in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HealthConfig {
    /// The command, already in exec form (`CMD-SHELL x` is `/bin/sh -c x`).
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u64,
    /// How often to check until the first success.
    #[serde(default = "default_start_interval")]
    pub start_interval: Duration,
}

fn default_start_interval() -> Duration {
    Duration::from_millis(100)
}

impl HealthConfig {
    /// From compose's normalised test (`["CMD", ...]`, `["CMD-SHELL", "..."]`, `["NONE"]`);
    /// `None` when disabled or empty.
    pub fn from_test(
        test: &[String],
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        retries: Option<u64>,
    ) -> Option<HealthConfig> {
        let command = match test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => vec!["/bin/sh".into(), "-c".into(), rest.join(" ")],
            _ => return None,
        };
        Some(HealthConfig {
            command,
            interval: interval.filter(|d| !d.is_zero()).unwrap_or(Duration::from_secs(30)),
            timeout: timeout.filter(|d| !d.is_zero()).unwrap_or(Duration::from_secs(30)),
            start_period: start_period.unwrap_or_default(),
            retries: retries.filter(|r| *r > 0).unwrap_or(3),
            start_interval: default_start_interval(),
        })
    }

    /// compose's `start_interval`.
    pub fn with_start_interval(mut self, every: Option<Duration>) -> HealthConfig {
        if let Some(every) = every.filter(|d| !d.is_zero()) {
            self.start_interval = every;
        }
        self
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HealthResult {
    pub exit_code: i32,
    pub output: String,
    pub at: u64,
}

/// What the state records: the status, the failing streak and the last results.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u64,
    pub log: Vec<HealthResult>,
}

impl Health {
    /// Count one result, as docker does.
    pub fn record(&mut self, config: &HealthConfig, result: HealthResult, in_start_period: bool) {
        if result.exit_code == 0 {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
        } else if !in_start_period {
            self.failing_streak += 1;
            if self.failing_streak >= config.retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        if self.log.len() > LOG_LENGTH {
            self.log.remove(0);
        }
    }

    /// The last result's output, for an error message.
    pub fn last_output(&self) -> String {
        self.log.last().map(|r| r.output.trim().to_string()).unwrap_or_default()
    }
}

/// A check in flight: the forked child and its output pipe.
struct Running {
    pid: i32,
    output: Option<OwnedFd>,
    collected: Vec<u8>,
}

/// The shim's side: when to run the next check, and the one running.
pub struct Monitor {
    config: HealthConfig,
    started: Instant,
    /// When the last check that counted ran.
    counted: Instant,
    next: Instant,
    running: Option<Running>,
    health: Health,
}

impl Monitor {
    /// Begin with a fresh `starting` state for a container that just started.
    pub fn new(config: HealthConfig, containers: &Containers, id: &str) -> Monitor {
        let now = Instant::now();
        let monitor =
            Monitor { next: now + config.start_interval.min(config.interval), config, started: now, counted: now, running: None, health: Health::default() };
        monitor.save(containers, id);
        monitor
    }

    /// The running check's output pipe, to poll.
    pub fn output_fd(&self) -> Option<BorrowedFd<'_>> {
        self.running.as_ref().and_then(|r| r.output.as_ref()).map(|f| f.as_fd())
    }

    /// How long the caller may sleep before `tick` has work.
    pub fn wait(&self) -> Duration {
        if self.running.is_some() { Duration::from_millis(200) } else { self.next.saturating_duration_since(Instant::now()) }
    }

    /// Start a check when one is due. Call while single-threaded.
    pub fn tick(&mut self, containers: &Containers, record: &ContainerRecord, libcontainer_root: &std::path::Path) {
        if self.running.is_some() || Instant::now() < self.next {
            return;
        }
        self.running = spawn_check(containers, record, &self.config, libcontainer_root);
        if self.running.is_none() {
            self.next = Instant::now() + self.config.interval;
        }
    }

    /// Read what the check printed so far.
    pub fn read_output(&mut self) {
        if let Some(r) = &mut self.running {
            let mut buf = [0u8; 4096];
            let n = r.output.as_ref().map(|f| nix::unistd::read(f.as_raw_fd(), &mut buf).unwrap_or(0)).unwrap_or(0);
            if n == 0 {
                r.output = None;
            } else if r.collected.len() < OUTPUT_LIMIT {
                r.collected.extend_from_slice(&buf[..n.min(OUTPUT_LIMIT - r.collected.len())]);
            }
        }
    }

    /// A reaped child: if it was our check, count its result. Returns whether it was.
    pub fn reaped(&mut self, pid: i32, exit_code: i32, containers: &Containers, id: &str) -> bool {
        if self.running.as_ref().is_none_or(|r| r.pid != pid) {
            return false;
        }
        self.read_output();
        let running = self.running.take().expect("checked");
        let mut output = String::from_utf8_lossy(&running.collected).into_owned();
        if exit_code == TIMED_OUT {
            output = format!("Health check exceeded timeout ({}s)", self.config.timeout.as_secs());
        }
        let starting = self.health.status == HealthStatus::Starting;
        // An early check between two intervals: a success counts, a failure does not.
        let early = starting && self.counted.elapsed() < self.config.interval;
        if !early {
            self.counted = Instant::now();
        }
        let in_start_period = self.started.elapsed() < self.config.start_period || early;
        let before = self.health.status;
        self.health.record(&self.config, HealthResult { exit_code, output, at: crate::time::now_unix() }, in_start_period);
        if self.health.status != before
            && let Ok(record) = containers.find(id)
        {
            super::events::record(containers, &record, &format!("health_status: {}", self.health.status), &[]);
        }
        let starting = self.health.status == HealthStatus::Starting;
        self.next = Instant::now() + if starting { self.config.start_interval.min(self.config.interval) } else { self.config.interval };
        self.save(containers, id);
        true
    }

    /// The container is gone: stop a check in flight.
    pub fn abort(&mut self) {
        if let Some(r) = self.running.take() {
            let pid = nix::unistd::Pid::from_raw(r.pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }

    fn save(&self, containers: &Containers, id: &str) {
        let mut state = containers.state(id);
        state.health = Some(self.health.clone());
        let _ = containers.save_state(id, &state);
    }
}

/// The exit code a check child reports when it had to kill the test.
const TIMED_OUT: i32 = 255;

/// Fork the child that runs one check: its stdout and stderr are the pipe, it
/// execs the test into the container, waits up to the timeout, exits with the code.
fn spawn_check(containers: &Containers, record: &ContainerRecord, config: &HealthConfig, libcontainer_root: &std::path::Path) -> Option<Running> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
    // SAFETY: the shim is single-threaded; the child execs the check and _exits.
    match unsafe { nix::unistd::fork() }.ok()? {
        nix::unistd::ForkResult::Parent { child } => {
            drop(write_end);
            Some(Running { pid: child.as_raw(), output: Some(read_end), collected: Vec::new() })
        }
        nix::unistd::ForkResult::Child => {
            drop(read_end);
            // SAFETY: dup2 onto our own standard descriptors; the test inherits them.
            unsafe {
                libc::dup2(write_end.as_raw_fd(), 1);
                libc::dup2(write_end.as_raw_fd(), 2);
            }
            drop(write_end);
            let opts = super::exec::ExecOptions { command: config.command.clone(), ..Default::default() };
            let code = match super::exec::spawn(containers, record, &opts, libcontainer_root) {
                Ok(spawned) => wait_for(spawned.pid, config.timeout),
                Err(e) => {
                    eprintln!("{e}");
                    e.exit_code()
                }
            };
            // SAFETY: leaving the forked child without running the shim's destructors.
            unsafe { libc::_exit(code) }
        }
    }
}

/// The check's exit code, or TIMED_OUT after killing it.
fn wait_for(pid: i32, timeout: Duration) -> i32 {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let pid = nix::unistd::Pid::from_raw(pid);
    let deadline = Instant::now() + timeout;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) if Instant::now() >= deadline => {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                let _ = waitpid(pid, None);
                return TIMED_OUT;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => return 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HealthConfig {
        HealthConfig::from_test(&["CMD-SHELL".into(), "pg_isready".into()], Some(Duration::from_secs(1)), None, None, Some(2)).unwrap()
    }

    fn result(code: i32) -> HealthResult {
        HealthResult { exit_code: code, output: format!("code {code}"), at: 0 }
    }

    #[test]
    fn tests_become_commands_with_docker_defaults() {
        let c = config();
        assert_eq!(c.command, ["/bin/sh", "-c", "pg_isready"]);
        assert_eq!((c.interval, c.timeout, c.retries), (Duration::from_secs(1), Duration::from_secs(30), 2));
        let exec = HealthConfig::from_test(&["CMD".into(), "true".into()], None, None, None, None).unwrap();
        assert_eq!((exec.command, exec.interval, exec.retries), (vec!["true".to_string()], Duration::from_secs(30), 3));
        assert!(HealthConfig::from_test(&["NONE".into()], None, None, None, None).is_none());
        assert!(HealthConfig::from_test(&[], None, None, None, None).is_none());
    }

    #[test]
    fn streaks_start_period_and_recovery() {
        let c = config();
        let mut h = Health::default();
        h.record(&c, result(1), true);
        h.record(&c, result(1), true);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0), "the start period does not count");
        h.record(&c, result(1), false);
        assert_eq!(h.status, HealthStatus::Starting);
        h.record(&c, result(1), false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Unhealthy, 2));
        h.record(&c, result(0), false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        for _ in 0..10 {
            h.record(&c, result(0), false);
        }
        assert_eq!(h.log.len(), LOG_LENGTH);
        assert_eq!(h.last_output(), "code 0");
    }
}
