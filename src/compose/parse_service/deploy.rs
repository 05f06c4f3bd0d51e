//! A service's `deploy` section with its resources, `ulimits` and `logging`.

use super::*;

pub(super) fn deploy(node: &Node, path: &str, ctx: &mut ServiceContext, service: &str) -> Result<Deploy> {
    let mut deploy = Deploy::default();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "mode" => deploy.mode = Some(fields::string(value, &f)?),
            "replicas" => deploy.replicas = Some(fields::unsigned(value, &f)?),
            "labels" => deploy.labels = fields::string_map(value, &f)?,
            "resources" => {
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "limits" => deploy.resources.limits = Some(resource(v, &ff, ctx, service)?),
                        "reservations" => deploy.resources.reservations = Some(resource(v, &ff, ctx, service)?),
                        other => {
                            return Err(fields::unknown_key(&k.pos, &f, other, &["limits", "reservations"]));
                        }
                    }
                }
            }
            "restart_policy" => {
                let mut policy = RestartPolicy::default();
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "condition" => policy.condition = Some(fields::string(v, &ff)?),
                        "delay" => policy.delay = Some(fields::duration(v, &ff)?),
                        "max_attempts" => policy.max_attempts = Some(fields::unsigned(v, &ff)?),
                        "window" => policy.window = Some(fields::duration(v, &ff)?),
                        other => {
                            return Err(fields::unknown_key(&k.pos, &f, other, &["condition", "delay", "max_attempts", "window"]));
                        }
                    }
                }
                deploy.restart_policy = Some(policy);
            }
            k @ ("placement" | "update_config" | "rollback_config" | "endpoint_mode") => {
                ctx.warn(value, service, &f, "accepted but not supported by rde yet; ignored");
                deploy.extra.insert(k.to_string(), fields::to_json(value));
            }
            k if k.starts_with("x-") => {
                deploy.extensions.insert(k.to_string(), fields::to_json(value));
            }
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &["mode", "replicas", "labels", "resources", "restart_policy", "placement", "update_config", "rollback_config", "endpoint_mode"],
                ));
            }
        }
    }
    Ok(deploy)
}

pub(super) fn resource(node: &Node, path: &str, ctx: &mut ServiceContext, service: &str) -> Result<ResourceLimits> {
    let mut limits = ResourceLimits::default();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "cpus" => limits.cpus = Some(fields::float(value, &f)?),
            "memory" => limits.memory = Some(fields::bytes(value, &f)?),
            "pids" => limits.pids = Some(fields::integer(value, &f)?),
            k @ ("devices" | "generic_resources") => {
                ctx.warn(value, service, &f, "accepted but not supported by rde yet; ignored");
                limits.extra.insert(k.to_string(), fields::to_json(value));
            }
            other => {
                return Err(fields::unknown_key(&key.pos, path, other, &["cpus", "memory", "pids", "devices", "generic_resources"]));
            }
        }
    }
    Ok(limits)
}

pub(super) fn ulimits(node: &Node, path: &str) -> Result<IndexMap<String, Ulimit>> {
    let mut out = IndexMap::new();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        let limit = match &value.value {
            Value::Map(map) => {
                let (mut soft, mut hard) = (None, None);
                for (k, v) in map {
                    match k.name.as_str() {
                        "soft" => soft = Some(fields::integer(v, &join(&f, "soft"))?),
                        "hard" => hard = Some(fields::integer(v, &join(&f, "hard"))?),
                        other => {
                            return Err(fields::unknown_key(&k.pos, &f, other, &["soft", "hard"]));
                        }
                    }
                }
                let (Some(soft), Some(hard)) = (soft, hard) else {
                    return Err(ComposeError::invalid(&value.pos, &f, "needs both `soft` and `hard`"));
                };
                if soft > hard {
                    return Err(ComposeError::invalid(&value.pos, &f, format!("soft limit {soft} is above hard limit {hard}")));
                }
                Ulimit { soft, hard, single: false }
            }
            _ => {
                let n = fields::integer(value, &f)?;
                Ulimit { soft: n, hard: n, single: true }
            }
        };
        out.insert(key.name.clone(), limit);
    }
    Ok(out)
}

pub(super) fn logging(node: &Node, path: &str, ctx: &mut ServiceContext, service: &str) -> Result<Logging> {
    let mut logging = Logging::default();
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "driver" => logging.driver = Some(fields::string(value, &f)?),
            "options" => {
                if !value.is_null() {
                    logging.options = fields::string_map(value, &f)?;
                }
            }
            other => {
                return Err(fields::unknown_key(&key.pos, path, other, &["driver", "options"]));
            }
        }
    }
    if let Some(driver) = logging.driver.as_deref().filter(|d| !matches!(*d, "json-file" | "local" | "none")) {
        ctx.warn(node, service, &join(path, "driver"), format!("log driver {driver:?} is not supported by rde; logs go to rde's own log files"));
    }
    Ok(logging)
}
