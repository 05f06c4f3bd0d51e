//! A service's `networks` (aliases, fixed addresses, priority) and `extra_hosts`.

use super::*;

pub(super) fn service_networks(node: &Node, path: &str) -> Result<IndexMap<String, Option<ServiceNetwork>>> {
    let mut out = IndexMap::new();
    match &node.value {
        Value::Seq(_) => {
            for name in fields::string_list(node, path)? {
                out.insert(name, None);
            }
        }
        Value::Map(map) => {
            for (key, value) in map {
                let field = join(path, &key.name);
                if value.is_null() {
                    out.insert(key.name.clone(), None);
                    continue;
                }
                let mut network = ServiceNetwork::default();
                for (k, v) in fields::map(value, &field)? {
                    let f = join(&field, &k.name);
                    match k.name.as_str() {
                        "aliases" => network.aliases = fields::string_list(v, &f)?,
                        "ipv4_address" => network.ipv4_address = Some(fields::string(v, &f)?),
                        "ipv6_address" => network.ipv6_address = Some(fields::string(v, &f)?),
                        "link_local_ips" => network.link_local_ips = fields::string_list(v, &f)?,
                        "mac_address" => network.mac_address = Some(fields::string(v, &f)?),
                        "priority" | "gw_priority" => network.priority = Some(fields::integer(v, &f)?),
                        "driver_opts" => network.driver_opts = fields::string_map(v, &f)?,
                        "interface_name" => {}
                        other => {
                            return Err(fields::unknown_key(
                                &k.pos,
                                &field,
                                other,
                                &[
                                    "aliases",
                                    "ipv4_address",
                                    "ipv6_address",
                                    "link_local_ips",
                                    "mac_address",
                                    "priority",
                                    "gw_priority",
                                    "driver_opts",
                                    "interface_name",
                                ],
                            ));
                        }
                    }
                }
                out.insert(key.name.clone(), Some(network));
            }
        }
        _ => return Err(type_error(node, path, "a list or a mapping")),
    }
    Ok(out)
}

pub(super) fn extra_hosts(node: &Node, path: &str) -> Result<IndexMap<String, Vec<String>>> {
    let mut out: IndexMap<String, Vec<String>> = IndexMap::new();
    match &node.value {
        Value::Map(map) => {
            for (key, value) in map {
                let f = join(path, &key.name);
                let addresses = match &value.value {
                    Value::Seq(_) => fields::string_list(value, &f)?,
                    _ => vec![fields::text(value, &f)?],
                };
                out.entry(key.name.clone()).or_default().extend(addresses);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let f = format!("{path}[{i}]");
                let entry = fields::string(item, &f)?;
                // `host=ip` (preferred) or the legacy `host:ip`.
                let (host, ip) = entry.split_once('=').or_else(|| entry.split_once(':')).ok_or_else(|| {
                    ComposeError::invalid(&item.pos, &f, format!("invalid extra host {entry:?}")).with_hint("write \"HOST=IP\" or \"HOST:IP\"")
                })?;
                out.entry(host.to_string()).or_default().push(ip.trim_start_matches('[').trim_end_matches(']').to_string());
            }
        }
        _ => return Err(type_error(node, path, "a list or a mapping")),
    }
    Ok(out)
}
