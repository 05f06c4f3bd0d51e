//! Waiting for containers: a dependency's `depends_on` condition before its
//! dependents start, and every container with `up --wait`. Never a silent hang:
//! a healthcheck bounds its own wait (start period + retries x (interval +
//! timeout)), and failures name the service and show its last health output.

use crate::runtime::health::HealthStatus;
use crate::runtime::state::{ContainerRecord, Containers, Observed};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("dependency {service} is unhealthy: {output}; hint: `rde logs {service}` shows its output")]
    Unhealthy { service: String, output: String },
    #[error("dependency {service} did not become healthy within {secs} s (last check: {output}); hint: `rde logs {service}` shows its output")]
    NotHealthyInTime { service: String, secs: u64, output: String },
    #[error("service {service} has no healthcheck, so it can never be healthy; hint: add a healthcheck, or use condition: service_started")]
    NoHealthcheck { service: String },
    #[error("service {service} exited with code {code}; hint: `rde logs {service}` shows why")]
    Exited { service: String, code: i32 },
    #[error("service {service} did not complete successfully: exit code {code}; hint: `rde logs {service}` shows why")]
    Failed { service: String, code: i32 },
    #[error("service {service} is not running after {secs} s")]
    NotRunning { service: String, secs: u64 },
}

/// What to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Running,
    Healthy,
    Completed,
}

/// Wait until every container of `service` meets `condition`. `limit` caps the
/// wait (`up --wait-timeout`); healthchecks bound it by themselves.
pub fn wait_for(containers: &Containers, service: &str, records: &[&ContainerRecord], condition: Condition, limit: Option<Duration>) -> Result<(), WaitError> {
    for record in records {
        wait_one(containers, service, record, condition, limit)?;
    }
    Ok(())
}

fn wait_one(containers: &Containers, service: &str, record: &ContainerRecord, condition: Condition, limit: Option<Duration>) -> Result<(), WaitError> {
    let started = Instant::now();
    let service = service.to_string();
    // A healthcheck says how long it may take; otherwise running is immediate.
    let health_bound = record.healthcheck.as_ref().map(|h| h.start_period + (h.interval + h.timeout) * (h.retries as u32 + 1) + Duration::from_secs(5));
    let bound = match (condition, limit) {
        (Condition::Completed, limit) => limit,
        (_, Some(limit)) => Some(limit),
        (_, None) => health_bound.or(Some(Duration::from_secs(60))),
    };
    if condition == Condition::Healthy && record.healthcheck.is_none() {
        return Err(WaitError::NoHealthcheck { service });
    }
    loop {
        let observed = containers.observe(&record.id);
        let health = containers.state(&record.id).health;
        match (condition, observed) {
            (Condition::Completed, Observed::Exited(0)) => return Ok(()),
            (Condition::Completed, Observed::Exited(code)) => return Err(WaitError::Failed { service, code }),
            (Condition::Completed, _) => {}
            (_, Observed::Exited(code)) => return Err(WaitError::Exited { service, code }),
            (Condition::Running, Observed::Running) => return Ok(()),
            (Condition::Healthy, Observed::Running) => match health.as_ref().map(|h| h.status) {
                Some(HealthStatus::Healthy) => return Ok(()),
                Some(HealthStatus::Unhealthy) => return Err(WaitError::Unhealthy { service, output: health.map(|h| h.last_output()).unwrap_or_default() }),
                _ => {}
            },
            _ => {}
        }
        if let Some(bound) = bound.filter(|b| started.elapsed() >= *b) {
            let secs = bound.as_secs();
            return Err(match condition {
                Condition::Healthy => WaitError::NotHealthyInTime { service, secs, output: health.map(|h| h.last_output()).unwrap_or_default() },
                _ => WaitError::NotRunning { service, secs },
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
