//! Merging compose files (`-f a.yml -f b.yml`, multi-document files, `extends`) with the
//! compose-spec override rules:
//! - mappings are merged key by key, a later scalar replaces an earlier one, and a `null`
//!   override keeps the earlier value;
//! - `command`, `entrypoint`, `healthcheck.test` are replaced as a whole;
//! - `environment`, `labels`, `sysctls`, `extra_hosts`, `build.args`, `ulimits`... are merged by
//!   key whatever their list/map syntax;
//! - `ports`, `expose`, `dns`, `dns_search`, `tmpfs`, `external_links`... are appended and
//!   de-duplicated; `volumes`/`devices` are merged by container path, `secrets`/`configs` by
//!   target, `env_file` by path;
//! - `!reset` removes a value, `!override` replaces it without merging.

use super::yaml::{Key, Map, Node, Value};

/// Merges file `over` into `base` (both whole compose documents).
pub fn merge_documents(base: Node, over: Node) -> Node {
    merge_value(base, over, &mut Vec::new())
}

/// Merges one service definition onto another (used by `extends`).
pub fn merge_service(base: Node, over: Node, name: &str) -> Node {
    merge_value(base, over, &mut vec!["services".to_string(), name.to_string()])
}

/// Removes `!reset` values and `!override` tags left in a single (unmerged) document.
pub fn strip_merge_tags(node: &mut Node) {
    if node.tag.as_deref() == Some("override") {
        node.tag = None;
    }
    match &mut node.value {
        Value::Map(map) => {
            map.retain(|_, v| v.tag.as_deref() != Some("reset"));
            map.values_mut().for_each(strip_merge_tags);
        }
        Value::Seq(items) => items.iter_mut().for_each(strip_merge_tags),
        _ => {}
    }
}

fn pattern(path: &[String]) -> String {
    // Service, network... names are replaced by `*` so rules can be written once.
    path.iter()
        .enumerate()
        .map(|(i, p)| if i == 1 || (i == 3 && path.get(2).is_some_and(|s| s == "ulimits")) { "*" } else { p.as_str() })
        .collect::<Vec<_>>()
        .join(".")
}

fn merge_value(base: Node, mut over: Node, path: &mut Vec<String>) -> Node {
    if over.tag.as_deref() == Some("override") {
        over.tag = None;
        strip_merge_tags(&mut over);
        return over;
    }
    if over.is_null() {
        return base;
    }
    let rule = pattern(path);
    match rule.as_str() {
        "services.*.command" | "services.*.entrypoint" | "services.*.healthcheck.test" => over,
        "services.*.environment"
        | "services.*.labels"
        | "services.*.annotations"
        | "services.*.sysctls"
        | "services.*.extra_hosts"
        | "services.*.build.args"
        | "services.*.build.labels"
        | "services.*.build.extra_hosts"
        | "services.*.deploy.labels"
        | "networks.*.labels"
        | "volumes.*.labels" => {
            // extra_hosts also accepts the legacy `host:ip` form.
            let colon = rule.ends_with("extra_hosts");
            merge_plain_maps(to_key_value_map(base, colon), to_key_value_map(over, colon))
        }
        "services.*.depends_on" => merge_value_maps(to_dependency_map(base), to_dependency_map(over), path),
        "services.*.networks" => merge_value_maps(to_network_map(base), to_network_map(over), path),
        "services.*.build" => merge_value_maps(to_build_map(base), to_build_map(over), path),
        "services.*.logging" => merge_logging(base, over, path),
        "services.*.volumes" | "services.*.devices" => append_unique(base, over, mount_target),
        "services.*.secrets" | "services.*.configs" => append_unique(base, over, reference_target),
        "services.*.env_file" => append_unique(base, over, env_file_path),
        "services.*.ports"
        | "services.*.expose"
        | "services.*.dns"
        | "services.*.dns_search"
        | "services.*.dns_opt"
        | "services.*.tmpfs"
        | "services.*.external_links"
        | "services.*.links"
        | "services.*.cap_add"
        | "services.*.cap_drop"
        | "services.*.security_opt"
        | "services.*.profiles"
        | "services.*.group_add"
        | "services.*.volumes_from" => append_unique(base, over, |n| Some(canonical(n))),
        _ => match (base.value, over.value) {
            (Value::Map(b), Value::Map(o)) => Node { value: Value::Map(merge_maps(b, o, path)), pos: base.pos, tag: None },
            (Value::Seq(mut b), Value::Seq(o)) => {
                b.extend(o);
                Node { value: Value::Seq(b), pos: base.pos, tag: None }
            }
            (_, value) => Node { value, pos: over.pos, tag: over.tag },
        },
    }
}

fn merge_maps(mut base: Map, over: Map, path: &mut Vec<String>) -> Map {
    for (key, value) in over {
        if value.tag.as_deref() == Some("reset") {
            base.shift_remove(key.name.as_str());
            continue;
        }
        match base.get_index_of(key.name.as_str()) {
            Some(index) => {
                let existing = std::mem::replace(&mut base[index], Node::new(Value::Null, value.pos.clone()));
                path.push(key.name.clone());
                base[index] = merge_value(existing, value, path);
                path.pop();
            }
            None => {
                let mut value = value;
                strip_merge_tags(&mut value);
                base.insert(key, value);
            }
        }
    }
    base
}

fn merge_value_maps(base: Node, over: Node, path: &mut Vec<String>) -> Node {
    match (base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => Node { value: Value::Map(merge_maps(b, o, path)), pos: base.pos, tag: None },
        (_, value) => Node { value, pos: over.pos, tag: None },
    }
}

/// Key/value attributes: later keys win, no deeper merge.
fn merge_plain_maps(base: Node, over: Node) -> Node {
    match (base.value, over.value) {
        (Value::Map(mut b), Value::Map(o)) => {
            for (k, v) in o {
                if v.tag.as_deref() == Some("reset") {
                    b.shift_remove(k.name.as_str());
                } else {
                    b.insert(k, v);
                }
            }
            Node { value: Value::Map(b), pos: base.pos, tag: None }
        }
        (_, value) => Node { value, pos: over.pos, tag: None },
    }
}

/// Logging options merge only when the driver stays the same.
fn merge_logging(base: Node, over: Node, path: &mut Vec<String>) -> Node {
    let driver = |n: &Node| n.get("driver").and_then(Node::scalar_text);
    match (driver(&base), driver(&over)) {
        (Some(a), Some(b)) if a != b => over,
        _ => merge_value_maps(base, over, path),
    }
}

/// Appends `over` to `base`; an entry whose key is already present replaces the earlier one
/// in place.
fn append_unique(base: Node, over: Node, key_of: fn(&Node) -> Option<String>) -> Node {
    let pos = base.pos.clone();
    let mut items = to_seq(base);
    for item in to_seq(over) {
        let key = key_of(&item);
        match key.and_then(|k| items.iter().position(|existing| key_of(existing).as_deref() == Some(k.as_str()))) {
            Some(index) => items[index] = item,
            None => items.push(item),
        }
    }
    Node::new(Value::Seq(items), pos)
}

fn to_seq(node: Node) -> Vec<Node> {
    match node.value {
        Value::Seq(items) => items,
        Value::Null => Vec::new(),
        _ => vec![node],
    }
}

/// `["A=1", "B"]` -> `{A: "1", B: null}`; mappings are returned as they are.
pub fn to_key_value_map(node: Node, colon_separates: bool) -> Node {
    let Value::Seq(items) = node.value else {
        return node;
    };
    let mut map = Map::new();
    for item in items {
        let Some(text) = item.scalar_text() else {
            continue;
        };
        let split = text.find('=').or_else(|| if colon_separates { text.find(':') } else { None });
        match split {
            Some(at) => map.insert(Key::new(&text[..at], item.pos.clone()), Node::str(&text[at + 1..], item.pos)),
            None => map.insert(Key::new(text, item.pos.clone()), Node::new(Value::Null, item.pos)),
        };
    }
    Node::new(Value::Map(map), node.pos)
}

fn to_dependency_map(node: Node) -> Node {
    let Value::Seq(items) = node.value else {
        return node;
    };
    let mut map = Map::new();
    for item in items {
        if let Some(name) = item.scalar_text() {
            let mut dependency = Map::new();
            dependency.insert(Key::new("condition", item.pos.clone()), Node::str("service_started", item.pos.clone()));
            map.insert(Key::new(name, item.pos.clone()), Node::new(Value::Map(dependency), item.pos));
        }
    }
    Node::new(Value::Map(map), node.pos)
}

fn to_network_map(node: Node) -> Node {
    let Value::Seq(items) = node.value else {
        return node;
    };
    let mut map = Map::new();
    for item in items {
        if let Some(name) = item.scalar_text() {
            map.insert(Key::new(name, item.pos.clone()), Node::new(Value::Null, item.pos));
        }
    }
    Node::new(Value::Map(map), node.pos)
}

fn to_build_map(node: Node) -> Node {
    match node.value {
        Value::Str(context) => {
            let mut map = Map::new();
            map.insert(Key::new("context", node.pos.clone()), Node::str(context, node.pos.clone()));
            Node::new(Value::Map(map), node.pos)
        }
        _ => node,
    }
}

/// Container path of a volume or device entry (short or long syntax).
fn mount_target(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(spec) => {
            let parts: Vec<&str> = spec.split(':').collect();
            Some(if parts.len() == 1 { parts[0] } else { parts[1] }.to_string())
        }
        Value::Map(m) => m.get("target").and_then(Node::scalar_text),
        _ => None,
    }
}

fn reference_target(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(source) => Some(source.clone()),
        Value::Map(m) => m.get("target").or_else(|| m.get("source")).and_then(Node::scalar_text),
        _ => None,
    }
}

fn env_file_path(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(path) => Some(path.clone()),
        Value::Map(m) => m.get("path").and_then(Node::scalar_text),
        _ => None,
    }
}

/// A position-free text form of a node, to compare entries.
pub fn canonical(node: &Node) -> String {
    match &node.value {
        Value::Seq(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        Value::Map(map) => {
            let mut entries: Vec<String> = map.iter().map(|(k, v)| format!("{:?}:{}", k.name, canonical(v))).collect();
            entries.sort();
            format!("{{{}}}", entries.join(","))
        }
        Value::Null => "null".to_string(),
        _ => format!("{:?}", node.scalar_text().unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::yaml;
    use std::sync::Arc;

    fn doc(text: &str) -> Node {
        let file: Arc<str> = Arc::from("t.yml");
        yaml::parse(text, &file).unwrap().remove(0)
    }

    fn merged(base: &str, over: &str) -> String {
        let mut n = merge_documents(doc(base), doc(over));
        strip_merge_tags(&mut n);
        let web = n.get("services").unwrap().get("web").unwrap().clone();
        canonical(&web)
    }

    fn expect(text: &str) -> String {
        canonical(&doc(text))
    }

    #[test]
    fn scalars_are_replaced_and_mappings_merged() {
        assert_eq!(
            merged("services: {web: {image: a, restart: always}}", "services: {web: {image: b, user: u}}"),
            expect("{image: b, restart: always, user: u}")
        );
    }

    #[test]
    fn null_override_keeps_base() {
        assert_eq!(merged("services: {web: {image: a}}", "services: {web: {image: }}"), expect("{image: a}"));
    }

    #[test]
    fn command_entrypoint_and_healthcheck_test_are_replaced() {
        assert_eq!(
            merged(
                "services: {web: {command: [a, b], entrypoint: [x], healthcheck: {test: [CMD, a], retries: 3}}}",
                "services: {web: {command: [c], entrypoint: [y, z], healthcheck: {test: [CMD, b]}}}"
            ),
            expect("{command: [c], entrypoint: [y, z], healthcheck: {test: [CMD, b], retries: 3}}")
        );
    }

    #[test]
    fn key_value_attributes_merge_by_key_across_syntaxes() {
        for field in ["environment", "labels", "sysctls", "extra_hosts"] {
            assert_eq!(
                merged(&format!("services: {{web: {{{field}: [A=1, B=2, C]}}}}"), &format!("services: {{web: {{{field}: {{B: '3', D: '4'}}}}}}")),
                expect(&format!("{{{field}: {{A: '1', B: '3', C: null, D: '4'}}}}")),
                "{field}"
            );
        }
        assert_eq!(
            merged("services: {web: {build: {context: ., args: [A=1]}}}", "services: {web: {build: {args: {A: '2'}}}}"),
            expect("{build: {context: ., args: {A: '2'}}}")
        );
    }

    #[test]
    fn ulimits_merge_by_name() {
        assert_eq!(
            merged("services: {web: {ulimits: {nproc: 10, nofile: {soft: 1, hard: 2}}}}", "services: {web: {ulimits: {nofile: {hard: 3}}}}"),
            expect("{ulimits: {nproc: 10, nofile: {soft: 1, hard: 3}}}")
        );
    }

    #[test]
    fn lists_are_appended_and_deduplicated() {
        for field in ["ports", "expose", "dns", "dns_search", "tmpfs", "external_links", "cap_add"] {
            assert_eq!(
                merged(&format!("services: {{web: {{{field}: ['a', 'b']}}}}"), &format!("services: {{web: {{{field}: ['b', 'c']}}}}")),
                expect(&format!("{{{field}: ['a', 'b', 'c']}}")),
                "{field}"
            );
        }
        // A single string is treated as a one-element list.
        assert_eq!(merged("services: {web: {dns: 1.1.1.1}}", "services: {web: {dns: [8.8.8.8]}}"), expect("{dns: [1.1.1.1, 8.8.8.8]}"));
    }

    #[test]
    fn volumes_and_devices_merge_by_target() {
        assert_eq!(
            merged(
                "services: {web: {volumes: ['./a:/data', 'logs:/logs'], devices: ['/dev/a:/dev/x']}}",
                "services: {web: {volumes: [{type: volume, source: other, target: /data}, './c:/cache:ro'], devices: ['/dev/b:/dev/x']}}"
            ),
            expect("{volumes: [{type: volume, source: other, target: /data}, 'logs:/logs', './c:/cache:ro'], devices: ['/dev/b:/dev/x']}")
        );
    }

    #[test]
    fn secrets_merge_by_target_and_env_files_by_path() {
        assert_eq!(
            merged(
                "services: {web: {secrets: [a, {source: b, target: t}], env_file: [.env, {path: x.env}]}}",
                "services: {web: {secrets: [{source: a, mode: 0400}], env_file: x.env}}"
            ),
            expect("{secrets: [{source: a, mode: 0400}, {source: b, target: t}], env_file: [.env, x.env]}")
        );
    }

    #[test]
    fn depends_on_and_networks_merge_across_syntaxes() {
        assert_eq!(
            merged(
                "services: {web: {depends_on: [db, cache], networks: [front]}}",
                "services: {web: {depends_on: {db: {condition: service_healthy}}, networks: {back: {aliases: [x]}}}}"
            ),
            expect("{depends_on: {db: {condition: service_healthy}, cache: {condition: service_started}}, networks: {front: null, back: {aliases: [x]}}}")
        );
    }

    #[test]
    fn build_string_merges_with_mapping() {
        assert_eq!(merged("services: {web: {build: ./app}}", "services: {web: {build: {target: dev}}}"), expect("{build: {context: ./app, target: dev}}"));
    }

    #[test]
    fn logging_options_merge_only_with_same_driver() {
        assert_eq!(
            merged("services: {web: {logging: {driver: json-file, options: {max-size: 1m}}}}", "services: {web: {logging: {options: {max-file: '3'}}}}"),
            expect("{logging: {driver: json-file, options: {max-size: 1m, max-file: '3'}}}")
        );
        assert_eq!(
            merged("services: {web: {logging: {driver: json-file, options: {max-size: 1m}}}}", "services: {web: {logging: {driver: syslog}}}"),
            expect("{logging: {driver: syslog}}")
        );
    }

    #[test]
    fn reset_and_override_tags() {
        assert_eq!(
            merged(
                "services: {web: {image: a, ports: ['1:1'], environment: {A: '1', B: '2'}}}",
                "services: {web: {ports: !reset [], environment: !override {C: '3'}}}"
            ),
            expect("{image: a, environment: {C: '3'}}")
        );
    }
}
