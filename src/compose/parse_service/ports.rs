//! A service's `ports`: short (`[IP:][HOST:]CONTAINER[/PROTO]`, ranges) and long syntax.

use super::*;

pub(super) fn ports(node: &Node, path: &str) -> Result<Vec<PortMapping>> {
    let items = node.as_seq().ok_or_else(|| type_error(node, path, "a list"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("{path}[{i}]");
        match &item.value {
            Value::Int(_) | Value::Str(_) => {
                let spec = item.scalar_text().unwrap_or_default();
                out.extend(
                    syntax::parse_port(&spec)
                        .map_err(|m| ComposeError::invalid(&item.pos, &field, m).with_hint("use \"HOST:CONTAINER\" such as \"8000:8000\""))?,
                );
            }
            Value::Map(map) => {
                let mut port =
                    PortMapping { name: None, mode: "ingress".into(), host_ip: None, target: 0, published: None, protocol: "tcp".into(), app_protocol: None };
                let mut has_target = false;
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "target" => {
                            port.target = fields::unsigned(value, &f)?;
                            has_target = true;
                        }
                        "published" => {
                            let text = fields::text(value, &f)?;
                            port.published = Some(syntax::parse_range(&text).map_err(|m| ComposeError::invalid(&value.pos, &f, m))?);
                        }
                        "host_ip" => port.host_ip = Some(fields::string(value, &f)?),
                        "protocol" => port.protocol = fields::string(value, &f)?,
                        "mode" => port.mode = fields::string(value, &f)?,
                        "name" => port.name = Some(fields::string(value, &f)?),
                        "app_protocol" => port.app_protocol = Some(fields::string(value, &f)?),
                        k if k.starts_with("x-") => {}
                        other => {
                            return Err(fields::unknown_key(
                                &key.pos,
                                &field,
                                other,
                                &["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"],
                            ));
                        }
                    }
                }
                if !has_target {
                    return Err(ComposeError::invalid(&item.pos, &field, "missing `target` (the container port)"));
                }
                out.push(port);
            }
            _ => return Err(type_error(item, &field, "a string, a number or a mapping")),
        }
    }
    // The same port written twice (e.g. `3000` and the range `3000-3002`) is one port, as
    // compose keeps it.
    let mut unique: Vec<PortMapping> = Vec::with_capacity(out.len());
    for port in out {
        if !unique.contains(&port) {
            unique.push(port);
        }
    }
    Ok(unique)
}
