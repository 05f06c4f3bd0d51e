//! Restart policies as docker applies them (`--restart`, compose's `restart`):
//! the shim restarts the container after it exits unless the policy says no or
//! a user stopped it, waiting longer after each restart in a row.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    /// Restart after a non-zero exit, at most `max_retries` times when given.
    OnFailure {
        max_retries: Option<u32>,
    },
    /// As `always` (there is no daemon restart here for the difference to show).
    UnlessStopped,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid restart policy {0:?}; hint: use no, always, unless-stopped, on-failure or on-failure:N")]
pub struct InvalidPolicy(pub String);

impl std::str::FromStr for RestartPolicy {
    type Err = InvalidPolicy;
    fn from_str(text: &str) -> Result<RestartPolicy, InvalidPolicy> {
        let bad = || InvalidPolicy(text.to_string());
        Ok(match text.split_once(':') {
            None => match text {
                "" | "no" => RestartPolicy::No,
                "always" => RestartPolicy::Always,
                "unless-stopped" => RestartPolicy::UnlessStopped,
                "on-failure" => RestartPolicy::OnFailure { max_retries: None },
                _ => return Err(bad()),
            },
            Some(("on-failure", n)) => RestartPolicy::OnFailure { max_retries: Some(n.parse().map_err(|_| bad())?) },
            Some(_) => return Err(bad()),
        })
    }
}

impl RestartPolicy {
    /// After an exit with `exit_code`, having restarted `restarts` times already.
    pub fn should_restart(&self, exit_code: i32, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => exit_code != 0 && max_retries.is_none_or(|max| restarts < max),
        }
    }
}

/// docker's back-off: 100 ms, doubling with each restart in a row, at most 10 s here.
pub fn backoff(restarts: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << restarts.min(7))).min(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_decide() {
        let p = |s: &str| s.parse::<RestartPolicy>().unwrap();
        assert_eq!(p("no"), RestartPolicy::No);
        assert_eq!(p("on-failure:3"), RestartPolicy::OnFailure { max_retries: Some(3) });
        assert!("sometimes".parse::<RestartPolicy>().is_err() && "on-failure:x".parse::<RestartPolicy>().is_err());
        assert!(!p("no").should_restart(1, 0));
        assert!(p("always").should_restart(0, 100) && p("unless-stopped").should_restart(0, 0));
        assert!(p("on-failure").should_restart(1, 50) && !p("on-failure").should_restart(0, 0));
        assert!(p("on-failure:2").should_restart(1, 1) && !p("on-failure:2").should_restart(1, 2));
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_secs(10));
    }
}
