//! Start order: a service starts after everything it depends on (`depends_on`,
//! `network_mode: service:X`); services of one level do not depend on each
//! other and start together. Stopping goes through the levels in reverse.
//! (The loader already rejected cycles.)

use crate::compose::{NetworkMode, Service};
use indexmap::IndexMap;

/// The services `service` needs started first.
pub fn dependencies(service: &Service) -> Vec<String> {
    let mut deps: Vec<String> = service.depends_on.keys().cloned().collect();
    if let Some(NetworkMode::Service(other)) = &service.network_mode
        && !deps.contains(other)
    {
        deps.push(other.clone());
    }
    deps
}

/// `targets` and, unless `no_deps`, everything they depend on (a dependency that
/// is not `required` and not in the project is skipped). Empty `targets`: all.
pub fn selection(services: &IndexMap<String, Service>, targets: &[String], no_deps: bool) -> Vec<String> {
    let mut chosen: Vec<String> = if targets.is_empty() { services.keys().cloned().collect() } else { targets.to_vec() };
    if !no_deps {
        let mut i = 0;
        while i < chosen.len() {
            if let Some(service) = services.get(&chosen[i]) {
                for dep in dependencies(service) {
                    if services.contains_key(&dep) && !chosen.contains(&dep) {
                        chosen.push(dep);
                    }
                }
            }
            i += 1;
        }
    }
    chosen.retain(|name| services.contains_key(name));
    chosen
}

/// `chosen` in levels: each level only depends on earlier ones; names sorted within a level.
pub fn levels(services: &IndexMap<String, Service>, chosen: &[String]) -> Vec<Vec<String>> {
    let mut placed: Vec<String> = Vec::new();
    let mut levels = Vec::new();
    while placed.len() < chosen.len() {
        let mut level: Vec<String> = chosen
            .iter()
            .filter(|name| !placed.contains(name))
            .filter(|name| dependencies(&services[name.as_str()]).iter().all(|d| placed.contains(d) || !chosen.contains(d)))
            .cloned()
            .collect();
        if level.is_empty() {
            // A cycle the loader let through: start the rest together rather than never.
            level = chosen.iter().filter(|n| !placed.contains(n)).cloned().collect();
        }
        level.sort();
        placed.extend(level.iter().cloned());
        levels.push(level);
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{Dependency, DependencyCondition};

    fn project(edges: &[(&str, &[&str])]) -> IndexMap<String, Service> {
        edges
            .iter()
            .map(|(name, deps)| {
                let mut s = Service { name: name.to_string(), ..Default::default() };
                for d in *deps {
                    s.depends_on.insert(d.to_string(), Dependency { condition: DependencyCondition::ServiceStarted, required: true, restart: false });
                }
                (name.to_string(), s)
            })
            .collect()
    }

    #[test]
    fn levels_put_dependencies_first_and_independent_services_together() {
        let services = project(&[("web", &["db", "cache"]), ("db", &[]), ("cache", &[]), ("worker", &["db"]), ("proxy", &["web"])]);
        let all = selection(&services, &[], false);
        assert_eq!(levels(&services, &all), vec![vec!["cache", "db"], vec!["web", "worker"], vec!["proxy"]]);
    }

    #[test]
    fn selection_pulls_in_dependencies_unless_told_not_to() {
        let mut services = project(&[("web", &["db"]), ("db", &[]), ("other", &[])]);
        services.get_mut("web").unwrap().network_mode = Some(NetworkMode::Service("vpn".into()));
        services.insert("vpn".into(), Service { name: "vpn".into(), ..Default::default() });
        let mut chosen = selection(&services, &["web".into()], false);
        chosen.sort();
        assert_eq!(chosen, ["db", "vpn", "web"]);
        assert_eq!(selection(&services, &["web".into()], true), ["web"]);
        assert_eq!(levels(&services, &["web".to_string()]), vec![vec!["web"]]);
    }
}
