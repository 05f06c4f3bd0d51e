//! When a service starts and stays up: `depends_on`, `healthcheck`, `restart`, `pull_policy`.

use super::*;

pub(super) fn depends_on(node: &Node, path: &str) -> Result<IndexMap<String, Dependency>> {
    let mut out = IndexMap::new();
    let started = |required| Dependency { condition: DependencyCondition::ServiceStarted, required, restart: false };
    match &node.value {
        Value::Seq(_) => {
            for name in fields::string_list(node, path)? {
                out.insert(name, started(true));
            }
        }
        Value::Map(map) => {
            for (key, value) in map {
                let field = join(path, &key.name);
                let mut dependency = started(true);
                if !value.is_null() {
                    for (k, v) in fields::map(value, &field)? {
                        let f = join(&field, &k.name);
                        match k.name.as_str() {
                            "condition" => {
                                dependency.condition = match fields::string(v, &f)?.as_str() {
                                    "service_started" => DependencyCondition::ServiceStarted,
                                    "service_healthy" => DependencyCondition::ServiceHealthy,
                                    "service_completed_successfully" => DependencyCondition::ServiceCompletedSuccessfully,
                                    other => {
                                        return Err(ComposeError::invalid(&v.pos, &f, format!("unknown condition {other:?}"))
                                            .with_hint("use service_started, service_healthy or service_completed_successfully"));
                                    }
                                }
                            }
                            "required" => dependency.required = fields::boolean(v, &f)?,
                            "restart" => dependency.restart = fields::boolean(v, &f)?,
                            other => {
                                return Err(fields::unknown_key(&k.pos, &field, other, &["condition", "required", "restart"]));
                            }
                        }
                    }
                }
                out.insert(key.name.clone(), dependency);
            }
        }
        _ => return Err(type_error(node, path, "a list or a mapping")),
    }
    Ok(out)
}

pub(super) fn healthcheck(node: &Node, path: &str) -> Result<Healthcheck> {
    let mut check = Healthcheck::default();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "test" => {
                let test = match &value.value {
                    Value::Str(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                    Value::Seq(_) => fields::string_list(value, &f)?,
                    _ => return Err(type_error(value, &f, "a string or a list")),
                };
                if !matches!(test.first().map(String::as_str), Some("CMD" | "CMD-SHELL" | "NONE")) {
                    return Err(ComposeError::invalid(&value.pos, &f, "a test list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\"")
                        .with_hint("write test: [\"CMD\", \"curl\", \"-f\", \"http://localhost\"] or a plain string for the shell"));
                }
                check.test = Some(test);
            }
            "interval" => check.interval = Some(fields::duration(value, &f)?),
            "timeout" => check.timeout = Some(fields::duration(value, &f)?),
            "start_period" => check.start_period = Some(fields::duration(value, &f)?),
            "start_interval" => check.start_interval = Some(fields::duration(value, &f)?),
            "retries" => check.retries = Some(fields::unsigned(value, &f)?),
            "disable" => check.disable = fields::boolean(value, &f)?,
            k if k.starts_with("x-") => {}
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &["test", "interval", "timeout", "start_period", "start_interval", "retries", "disable"],
                ));
            }
        }
    }
    Ok(check)
}

pub(super) fn restart(node: &Node, path: &str) -> Result<String> {
    let value = fields::string(node, path).map_err(|e| e.with_hint("quote it: restart: \"no\""))?;
    let valid = matches!(value.as_str(), "no" | "always" | "on-failure" | "unless-stopped")
        || value.strip_prefix("on-failure:").is_some_and(|n| n.parse::<u32>().is_ok());
    if !valid {
        return Err(ComposeError::invalid(&node.pos, path, format!("invalid restart policy {value:?}"))
            .with_hint("use \"no\", always, on-failure[:max-retries] or unless-stopped"));
    }
    Ok(value)
}

pub(super) fn pull_policy(node: &Node, path: &str) -> Result<String> {
    let value = fields::string(node, path)?;
    let valid = matches!(value.as_str(), "always" | "never" | "missing" | "if_not_present" | "build" | "daily" | "weekly" | "refresh")
        || value.strip_prefix("every_").is_some_and(|d| syntax::parse_duration(d).is_ok());
    if !valid {
        return Err(ComposeError::invalid(&node.pos, path, format!("invalid pull policy {value:?}"))
            .with_hint("use always, never, missing, build, daily, weekly or every_<duration>"));
    }
    Ok(value)
}
