//! What a service mounts or reaches on the host: `volumes` (short and long syntax), `devices`,
//! and the file references of `configs` and `secrets`.

use super::*;

pub(super) fn volumes(node: &Node, path: &str, home: Option<&str>) -> Result<Vec<VolumeMount>> {
    let items = node.as_seq().ok_or_else(|| type_error(node, path, "a list"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        match &item.value {
            Value::Str(spec) => out.push(
                syntax::parse_volume(spec, home)
                    .map_err(|m| ComposeError::invalid(&item.pos, &field, m).with_hint("use \"SOURCE:TARGET[:ro]\" such as \"./data:/data\""))?,
            ),
            Value::Map(_) => out.push(long_volume(item, &field)?),
            _ => return Err(type_error(item, &field, "a string or a mapping")),
        }
    }
    // Targets are cleaned as compose does (Go's path.Clean): no trailing slash, no `.`.
    for mount in &mut out {
        if mount.target.len() > 1 {
            mount.target = crate::compose::paths::to_string(&crate::compose::paths::clean(std::path::Path::new(&mount.target)));
        }
    }
    Ok(out)
}

pub(super) fn long_volume(node: &Node, path: &str) -> Result<VolumeMount> {
    let map = fields::map(node, path)?;
    let kind = match map.get("type") {
        None => {
            return Err(ComposeError::invalid(&node.pos, path, "missing `type` (bind, volume, tmpfs, image, npipe or cluster)"));
        }
        Some(t) => match fields::string(t, &join(path, "type"))?.as_str() {
            "bind" => MountType::Bind,
            "volume" => MountType::Volume,
            "tmpfs" => MountType::Tmpfs,
            "npipe" => MountType::Npipe,
            "image" => MountType::Image,
            "cluster" => MountType::Cluster,
            other => {
                return Err(ComposeError::invalid(&t.pos, &join(path, "type"), format!("unknown mount type {other:?}")));
            }
        },
    };
    let mut mount = VolumeMount {
        kind,
        source: None,
        target: String::new(),
        read_only: false,
        consistency: None,
        bind: None,
        volume: None,
        tmpfs: None,
        image_subpath: None,
    };
    for (key, value) in map {
        let f = join(path, &key.name);
        match key.name.as_str() {
            "type" => {}
            "source" => mount.source = Some(fields::string(value, &f)?),
            "target" => mount.target = fields::string(value, &f)?,
            "read_only" => mount.read_only = fields::boolean(value, &f)?,
            "consistency" => mount.consistency = Some(fields::string(value, &f)?),
            "bind" => {
                let mut bind = BindOptions::default();
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "propagation" => bind.propagation = Some(fields::string(v, &ff)?),
                        "create_host_path" => bind.create_host_path = fields::boolean(v, &ff)?,
                        "selinux" => bind.selinux = Some(fields::string(v, &ff)?),
                        "recursive" => bind.recursive = Some(fields::string(v, &ff)?),
                        other => {
                            return Err(fields::unknown_key(&k.pos, &f, other, &["propagation", "create_host_path", "selinux", "recursive"]));
                        }
                    }
                }
                mount.bind = Some(bind);
            }
            "volume" => {
                let mut options = VolumeOptions::default();
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "nocopy" => options.nocopy = fields::boolean(v, &ff)?,
                        "subpath" => options.subpath = Some(fields::string(v, &ff)?),
                        "labels" => options.labels = fields::string_map(v, &ff)?,
                        other => {
                            return Err(fields::unknown_key(&k.pos, &f, other, &["nocopy", "subpath", "labels"]));
                        }
                    }
                }
                mount.volume = Some(options);
            }
            "tmpfs" => {
                let mut options = TmpfsOptions::default();
                for (k, v) in fields::map(value, &f)? {
                    let ff = join(&f, &k.name);
                    match k.name.as_str() {
                        "size" => options.size = Some(fields::bytes(v, &ff)?),
                        "mode" => options.mode = Some(fields::unsigned(v, &ff)?),
                        other => {
                            return Err(fields::unknown_key(&k.pos, &f, other, &["size", "mode"]));
                        }
                    }
                }
                mount.tmpfs = Some(options);
            }
            "image" => {
                for (k, v) in fields::map(value, &f)? {
                    match k.name.as_str() {
                        "subpath" => mount.image_subpath = Some(fields::string(v, &join(&f, "subpath"))?),
                        other => return Err(fields::unknown_key(&k.pos, &f, other, &["subpath"])),
                    }
                }
            }
            k if k.starts_with("x-") => {}
            other => {
                return Err(fields::unknown_key(
                    &key.pos,
                    path,
                    other,
                    &["type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs", "image"],
                ));
            }
        }
    }
    if mount.target.is_empty() {
        return Err(ComposeError::invalid(&node.pos, path, "missing `target` (the path inside the container)"));
    }
    if kind == MountType::Bind && mount.source.is_none() {
        return Err(ComposeError::invalid(&node.pos, path, "a bind mount needs a `source`"));
    }
    Ok(mount)
}

pub(super) fn devices(node: &Node, path: &str) -> Result<Vec<DeviceMapping>> {
    let items = node.as_seq().ok_or_else(|| type_error(node, path, "a list"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        let device = match &item.value {
            Value::Str(spec) => {
                let parts: Vec<&str> = spec.split(':').collect();
                match parts.as_slice() {
                    [source] => DeviceMapping { source: source.to_string(), target: source.to_string(), permissions: "rwm".into() },
                    [source, target] => DeviceMapping { source: source.to_string(), target: target.to_string(), permissions: "rwm".into() },
                    [source, target, permissions] => {
                        DeviceMapping { source: source.to_string(), target: target.to_string(), permissions: permissions.to_string() }
                    }
                    _ => {
                        return Err(ComposeError::invalid(&item.pos, &field, format!("invalid device {spec:?}")));
                    }
                }
            }
            Value::Map(map) => {
                let mut device = DeviceMapping { source: String::new(), target: String::new(), permissions: "rwm".into() };
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "source" => device.source = fields::string(value, &f)?,
                        "target" => device.target = fields::string(value, &f)?,
                        "permissions" => device.permissions = fields::string(value, &f)?,
                        other => {
                            return Err(fields::unknown_key(&key.pos, &field, other, &["source", "target", "permissions"]));
                        }
                    }
                }
                if device.target.is_empty() {
                    device.target = device.source.clone();
                }
                device
            }
            _ => return Err(type_error(item, &field, "a string or a mapping")),
        };
        out.push(device);
    }
    Ok(out)
}

/// `secrets:`/`configs:` of a service, short (a name) or long syntax. Without a `target`,
/// a secret is mounted at `<default_dir>/<source>` (`/run/secrets`), which is filled in as
/// compose v2 does; a config keeps no target (compose mounts it at `/<source>`).
pub(super) fn file_references(node: &Node, path: &str, default_dir: Option<&str>) -> Result<Vec<FileReference>> {
    let items = node.as_seq().ok_or_else(|| type_error(node, path, "a list"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        let mut reference = FileReference::default();
        match &item.value {
            Value::Str(source) => reference.source = source.clone(),
            Value::Map(map) => {
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "source" => reference.source = fields::string(value, &f)?,
                        "target" => reference.target = Some(fields::string(value, &f)?),
                        "uid" => reference.uid = Some(fields::text(value, &f)?),
                        "gid" => reference.gid = Some(fields::text(value, &f)?),
                        "mode" => {
                            reference.mode = Some(match &value.value {
                                // `mode: "0440"` is octal, as in chmod.
                                Value::Str(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
                                    .map_err(|_| ComposeError::invalid(&value.pos, &f, format!("invalid file mode {s:?}")))?,
                                _ => fields::unsigned(value, &f)?,
                            })
                        }
                        other => {
                            return Err(fields::unknown_key(&key.pos, &field, other, &["source", "target", "uid", "gid", "mode"]));
                        }
                    }
                }
                if reference.source.is_empty() {
                    return Err(ComposeError::invalid(&item.pos, &field, "missing `source`"));
                }
            }
            _ => return Err(type_error(item, &field, "a name or a mapping")),
        }
        if let (None, Some(dir)) = (&reference.target, default_dir) {
            reference.target = Some(format!("{dir}/{}", reference.source));
        }
        out.push(reference);
    }
    Ok(out)
}
