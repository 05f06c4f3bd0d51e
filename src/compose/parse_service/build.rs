//! A service's `build` section (kept for `config`; rde does not build images yet).

use super::*;

pub(super) fn parse_build(node: &Node, path: &str, ctx: &mut ServiceContext, service: &str) -> Result<Build> {
    let mut build = Build { dockerfile: "Dockerfile".into(), ..Default::default() };
    if let Value::Str(context) = &node.value {
        build.context = context.clone();
        return Ok(build);
    }
    let mut has_context = false;
    for (key, value) in fields::map(node, path)? {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "context" => {
                build.context = fields::string(value, &f)?;
                has_context = true;
            }
            "dockerfile" => build.dockerfile = fields::string(value, &f)?,
            "dockerfile_inline" => build.dockerfile_inline = Some(fields::string(value, &f)?),
            "args" => {
                // A bare arg takes the project environment's value; when that has none it is
                // left out (the Dockerfile's default applies), as compose does.
                build.args = fields::key_values(value, &f, &['='])?
                    .into_iter()
                    .filter_map(|(k, v)| match v {
                        Some(v) => Some((k, Some(v))),
                        None if ctx.resolve_environment => ctx.environment.get(&k).map(|v| (k, Some(v.clone()))),
                        None => Some((k, None)),
                    })
                    .collect()
            }
            "target" => build.target = Some(fields::string(value, &f)?),
            "labels" => build.labels = fields::string_map(value, &f)?,
            "cache_from" => build.cache_from = fields::string_list(value, &f)?,
            "cache_to" => build.cache_to = fields::string_list(value, &f)?,
            "network" => build.network = Some(fields::string(value, &f)?),
            "shm_size" => build.shm_size = Some(fields::bytes(value, &f)?),
            "extra_hosts" => build.extra_hosts = extra_hosts(value, &f)?,
            "platforms" => build.platforms = fields::string_list(value, &f)?,
            "tags" => build.tags = fields::string_list(value, &f)?,
            "no_cache" => build.no_cache = fields::boolean(value, &f)?,
            "pull" => build.pull = fields::boolean(value, &f)?,
            // Kept as written; project/build.rs gives them to the builder.
            k @ ("secrets" | "ulimits" | "additional_contexts") => {
                build.extra.insert(k.to_string(), fields::to_json(value));
            }
            k @ ("ssh" | "isolation" | "privileged" | "entitlements" | "provenance" | "sbom" | "no_cache_filter") => {
                ctx.warn(value, service, &f, "accepted but not supported by rde yet; ignored");
                build.extra.insert(k.to_string(), fields::to_json(value));
            }
            k if k.starts_with("x-") => {
                build.extensions.insert(k.to_string(), fields::to_json(value));
            }
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &[
                        "context",
                        "dockerfile",
                        "dockerfile_inline",
                        "args",
                        "target",
                        "labels",
                        "cache_from",
                        "cache_to",
                        "network",
                        "shm_size",
                        "extra_hosts",
                        "platforms",
                        "tags",
                        "no_cache",
                        "pull",
                        "additional_contexts",
                        "secrets",
                        "ssh",
                        "isolation",
                        "privileged",
                        "ulimits",
                        "entitlements",
                        "provenance",
                        "sbom",
                        "no_cache_filter",
                    ],
                ));
            }
        }
    }
    if !has_context {
        // compose defaults the context to the project directory; the loader made it absolute.
        build.context = ".".into();
    }
    Ok(build)
}
