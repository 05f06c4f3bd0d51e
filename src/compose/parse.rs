//! The merged compose document -> typed top-level resources and services.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::error::{ComposeError, Pos, Result, Warning};
use super::fields::{self, join, type_error};
use super::model::{FileObject, Network, Service, Volume};
use super::parse_service::{ServiceContext, parse_service};
use super::yaml::{Key, Node, Value};
use crate::names::NameKind;

pub const TOP_LEVEL_KEYS: &[&str] = &["version", "name", "services", "networks", "volumes", "secrets", "configs", "include", "models"];

pub struct Resources {
    /// Top-level `x-*` keys.
    pub extensions: super::model::Extra,
    pub services: IndexMap<String, Service>,
    pub networks: IndexMap<String, Network>,
    pub volumes: IndexMap<String, Volume>,
    pub secrets: IndexMap<String, FileObject>,
    pub configs: IndexMap<String, FileObject>,
}

/// Parses every top-level section; `project` is used to name networks and volumes.
pub fn parse_document(root: &Node, project: &str, ctx: &mut ServiceContext) -> Result<Resources> {
    let mut resources = Resources {
        extensions: IndexMap::new(),
        services: IndexMap::new(),
        networks: IndexMap::new(),
        volumes: IndexMap::new(),
        secrets: IndexMap::new(),
        configs: IndexMap::new(),
    };
    let Some(map) = root.as_map() else {
        return Err(type_error(root, "(top level)", "a mapping"));
    };
    for (key, value) in map {
        let k = key.name.as_str();
        match k {
            _ if k.starts_with("x-") => {
                resources.extensions.insert(k.to_string(), fields::to_json(value));
            }
            "version" | "name" | "include" => {} // handled by the loader
            "models" => {
                ctx.warnings.push(Warning {
                    file: Some(value.pos.file.to_string()),
                    service: None,
                    field: Some("models".into()),
                    message: "accepted but not supported by rde yet; ignored".into(),
                });
            }
            "services" => {
                if value.is_null() {
                    continue;
                }
                for (name, service) in fields::map(value, "services")? {
                    fields::check_name(&name.pos, &join("services", &name.name), NameKind::Service, &name.name)?;
                    if service.is_null() {
                        return Err(ComposeError::invalid(&name.pos, &join("services", &name.name), "service definition is empty")
                            .with_hint("give it at least an `image:` or a `build:`"));
                    }
                    resources.services.insert(name.name.clone(), parse_service(&name.name, service, ctx)?);
                }
            }
            "networks" => {
                for (name, network) in named_entries(value, "networks")? {
                    resources.networks.insert(name.name.clone(), parse_network(name, network, project)?);
                }
            }
            "volumes" => {
                for (name, volume) in named_entries(value, "volumes")? {
                    resources.volumes.insert(name.name.clone(), parse_volume(name, volume, project)?);
                }
            }
            "secrets" | "configs" => {
                for (name, object) in named_entries(value, k)? {
                    let parsed = parse_file_object(&name.name, object, project, k)?;
                    if k == "secrets" { &mut resources.secrets } else { &mut resources.configs }.insert(name.name.clone(), parsed);
                }
            }
            other => return Err(fields::unknown_key(&key.pos, "", other, TOP_LEVEL_KEYS)),
        }
    }
    Ok(resources)
}

fn named_entries<'a>(node: &'a Node, path: &str) -> Result<Vec<(&'a super::yaml::Key, Option<&'a Node>)>> {
    if node.is_null() {
        return Ok(Vec::new());
    }
    let map =
        node.as_map().ok_or_else(|| type_error(node, path, "a mapping").with_hint(format!("write a mapping of names such as `{path}: {{data: {{}}}}`")))?;
    map.iter()
        .map(|(k, v)| {
            fields::check_name(&k.pos, &join(path, &k.name), NameKind::Key, &k.name)?;
            Ok((k, (!v.is_null()).then_some(v)))
        })
        .collect()
}

/// An explicit `name:` (or `external: {name: ...}`): its value, where it was written and its field.
struct ExplicitName {
    value: String,
    pos: Pos,
    field: String,
}

impl ExplicitName {
    fn read(node: &Node, field: String) -> Result<Self> {
        Ok(ExplicitName { value: fields::string(node, &field)?, pos: node.pos.clone(), field })
    }
}

/// `external: true` or the legacy `external: {name: x}` (which also sets the name).
fn external(node: &Node, path: &str, name: &mut Option<ExplicitName>) -> Result<bool> {
    match &node.value {
        Value::Map(map) => {
            if let Some(n) = map.get("name") {
                *name = Some(ExplicitName::read(n, join(path, "name"))?);
            }
            Ok(true)
        }
        _ => fields::boolean(node, path),
    }
}

fn parse_network(key: &Key, node: Option<&Node>, project: &str) -> Result<Network> {
    let path = format!("networks.{}", key.name);
    let mut network = Network::default();
    let mut name = None;
    if let Some(node) = node {
        for (k, v) in fields::map(node, &path)? {
            let f = join(&path, &k.name);
            match k.name.as_str() {
                "name" => name = Some(ExplicitName::read(v, f)?),
                "driver" => network.driver = Some(fields::string(v, &f)?),
                "driver_opts" => network.driver_opts = fields::string_map(v, &f)?,
                "external" => network.external = external(v, &f, &mut name)?,
                "internal" => network.internal = fields::boolean(v, &f)?,
                "attachable" => network.attachable = fields::boolean(v, &f)?,
                "enable_ipv6" => network.enable_ipv6 = Some(fields::boolean(v, &f)?),
                "labels" => network.labels = fields::string_map(v, &f)?,
                "ipam" | "enable_ipv4" => {
                    network.extra.insert(k.name.clone(), fields::to_json(v));
                }
                other if other.starts_with("x-") => {
                    network.extensions.insert(other.to_string(), fields::to_json(v));
                }
                other => {
                    return Err(fields::unknown_key(
                        &k.pos,
                        &path,
                        other,
                        &["name", "driver", "driver_opts", "external", "internal", "attachable", "enable_ipv6", "enable_ipv4", "labels", "ipam"],
                    ));
                }
            }
        }
    }
    network.name = resource_name(key, &path, name, project, network.external, NameKind::Network)?;
    Ok(network)
}

fn parse_volume(key: &Key, node: Option<&Node>, project: &str) -> Result<Volume> {
    let path = format!("volumes.{}", key.name);
    let mut volume = Volume::default();
    let mut name = None;
    if let Some(node) = node {
        for (k, v) in fields::map(node, &path)? {
            let f = join(&path, &k.name);
            match k.name.as_str() {
                "name" => name = Some(ExplicitName::read(v, f)?),
                "driver" => volume.driver = Some(fields::string(v, &f)?),
                "driver_opts" => volume.driver_opts = fields::string_map(v, &f)?,
                "external" => volume.external = external(v, &f, &mut name)?,
                "labels" => volume.labels = fields::string_map(v, &f)?,
                other if other.starts_with("x-") => {
                    volume.extensions.insert(other.to_string(), fields::to_json(v));
                }
                other => {
                    return Err(fields::unknown_key(&k.pos, &path, other, &["name", "driver", "driver_opts", "external", "labels"]));
                }
            }
        }
    }
    volume.name = resource_name(key, &path, name, project, volume.external, NameKind::Volume)?;
    Ok(volume)
}

fn parse_file_object(key: &str, node: Option<&Node>, project: &str, section: &str) -> Result<FileObject> {
    let path = format!("{section}.{key}");
    let mut object = FileObject::default();
    let mut name = None;
    let Some(node) = node else {
        return Err(ComposeError::project(&path, "must define `file`, `environment`, `content` or `external`"));
    };
    for (k, v) in fields::map(node, &path)? {
        let f = join(&path, &k.name);
        match k.name.as_str() {
            "name" => name = Some(ExplicitName::read(v, f)?),
            "file" => object.file = Some(PathBuf::from(fields::string(v, &f)?)),
            "environment" => object.environment = Some(fields::string(v, &f)?),
            "content" if section == "configs" => object.content = Some(fields::string(v, &f)?),
            "external" => object.external = external(v, &f, &mut name)?,
            "labels" => object.labels = fields::string_map(v, &f)?,
            "driver" | "driver_opts" | "template_driver" => {
                object.extra.insert(k.name.clone(), fields::to_json(v));
            }
            other if other.starts_with("x-") => {
                object.extensions.insert(other.to_string(), fields::to_json(v));
            }
            other => {
                let mut known = vec!["name", "file", "environment", "external", "labels", "driver", "driver_opts", "template_driver"];
                if section == "configs" {
                    known.push("content");
                }
                return Err(fields::unknown_key(&k.pos, &path, other, &known));
            }
        }
    }
    if object.file.is_none() && object.environment.is_none() && object.content.is_none() && !object.external {
        return Err(ComposeError::invalid(&node.pos, &path, "must define `file`, `environment`, `content` or `external`"));
    }
    // Secrets and configs are never host objects of their own: their name is only a label.
    object.name = match name {
        Some(name) => name.value,
        None if object.external => key.to_string(),
        None => format!("{project}_{key}"),
    };
    Ok(object)
}

/// External resources keep their own name; others are prefixed with the project name.
/// The result names a host object (a volume's directory, a network's record), so it must
/// follow `kind`'s rule: the error points at the `name:` when there is one, else at the key.
fn resource_name(key: &Key, path: &str, explicit: Option<ExplicitName>, project: &str, external: bool, kind: NameKind) -> Result<String> {
    let (name, pos, field) = match explicit {
        Some(ExplicitName { value, pos, field }) => (value, pos, field),
        None if external => (key.name.clone(), key.pos.clone(), path.to_string()),
        None => (format!("{project}_{}", key.name), key.pos.clone(), path.to_string()),
    };
    fields::check_name(&pos, &field, kind, &name)?;
    Ok(name)
}
