//! A container's /etc/resolv.conf (resolv.conf(5)), as docker and podman write it:
//!
//! - the nameservers: the embedded resolver of the container's network (see
//!   [`super::resolver`]; it forwards to the user's `--dns` / compose `dns`
//!   servers, as docker's does), else the user's, else the host's. A loopback nameserver (systemd-resolved's `127.0.0.53`, a local
//!   dnsmasq) means nobody inside a container's own network namespace, so it is
//!   never handed to one: on a systemd-resolved host the upstream list in
//!   `/run/systemd/resolve/resolv.conf` stands in for it;
//! - `search`: the user's (`--dns-search`, compose `dns_search`), else the host's;
//! - `options`: the user's (`--dns-option`, compose `dns_opt`), else the host's.
//!
//! Pure but for [`for_container`], which reads the host's files.

use std::net::IpAddr;

/// The parts of a resolv.conf that matter here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// What the user asked for (all empty: the defaults).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DnsConfig {
    #[serde(default)]
    pub servers: Vec<IpAddr>,
    #[serde(default)]
    pub search: Vec<String>,
    #[serde(default)]
    pub options: Vec<String>,
}

/// systemd-resolved's list of the real upstream servers.
pub const SYSTEMD_RESOLVED_UPSTREAMS: &str = "/run/systemd/resolve/resolv.conf";

/// Read `nameserver`, `search` (and the older `domain`) and `options` lines;
/// anything else, and nameservers that are not addresses, are skipped. An IPv6
/// nameserver's zone (`fe80::1%eth0`) is dropped with the address.
pub fn parse(text: &str) -> ResolvConf {
    let mut conf = ResolvConf::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ip) = words.next().and_then(|w| w.parse().ok()) {
                    conf.nameservers.push(ip);
                }
            }
            // The last search or domain line wins.
            Some("search") | Some("domain") => conf.search = words.map(str::to_string).collect(),
            Some("options") => conf.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    conf
}

/// The host's resolver configuration as seen from a container's namespace:
/// `etc` is /etc/resolv.conf, `systemd` the upstream list of systemd-resolved
/// if there is one. Loopback nameservers are replaced by systemd's upstreams
/// (when /etc/resolv.conf has nothing else) and then dropped.
pub fn host_for_containers(etc: &str, systemd: Option<&str>) -> ResolvConf {
    let mut conf = parse(etc);
    let reachable = |ip: &IpAddr| !ip.is_loopback();
    if !conf.nameservers.iter().any(reachable)
        && let Some(upstream) = systemd.map(parse)
    {
        conf.nameservers = upstream.nameservers;
        if conf.search.is_empty() {
            conf.search = upstream.search;
        }
    }
    conf.nameservers.retain(reachable);
    // Options that only make sense for a local stub (trust-ad is fine anywhere; edns0 too).
    conf
}

/// The host's upstream servers for the embedded resolver. Rootful it runs in the
/// host's namespace (`loopback_reachable`): /etc/resolv.conf's servers as they are
/// (a local stub such as systemd-resolved's keeps split DNS and the host's own
/// names), then those a container could reach (see [`host_for_containers`]) in
/// case the stub does not answer. Rootless it runs in the session's namespace,
/// where a loopback server is nobody: only the reachable ones.
pub fn upstreams(etc: &str, systemd: Option<&str>, loopback_reachable: bool) -> Vec<IpAddr> {
    let mut servers = if loopback_reachable { parse(etc).nameservers } else { Vec::new() };
    for ip in host_for_containers(etc, systemd).nameservers {
        if !servers.contains(&ip) {
            servers.push(ip);
        }
    }
    servers
}

/// The file: `nameservers` (at most three are used by resolvers; all are
/// written), the search list and the options, from `host` overridden by `user`.
pub fn render(nameservers: &[IpAddr], host: &ResolvConf, user: &DnsConfig) -> String {
    let mut text = String::new();
    let search = if user.search.is_empty() { &host.search } else { &user.search };
    // `--dns-search .`: no search list at all.
    let search: Vec<&String> = search.iter().filter(|s| s.as_str() != ".").collect();
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")));
    }
    for ip in nameservers {
        text.push_str(&format!("nameserver {ip}\n"));
    }
    // Any option given replaces the host's, as docker does.
    let options = if user.options.is_empty() { &host.options } else { &user.options };
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    text
}

/// The whole file for a container, from this host's /etc/resolv.conf and
/// systemd-resolved's list, `user`'s settings and the embedded resolver's address.
pub fn for_container(user: &DnsConfig, embedded: Option<IpAddr>) -> String {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let host = host_for_containers(&read("/etc/resolv.conf").unwrap_or_default(), read(SYSTEMD_RESOLVED_UPSTREAMS).as_deref());
    render(&nameservers(user, embedded, &host), &host, user)
}

/// The nameservers a container gets: the embedded resolver's address (which
/// forwards to the user's servers when there are some), else the user's, else
/// the host's (loopback ones dropped, see [`host_for_containers`]).
pub fn nameservers(user: &DnsConfig, embedded: Option<IpAddr>, host: &ResolvConf) -> Vec<IpAddr> {
    match (embedded, user.servers.is_empty()) {
        // The resolver forwards this container's other names to its own servers, as docker's does.
        (Some(ip), _) => vec![ip],
        (None, false) => user.servers.clone(),
        (None, true) => host.nameservers.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn parses_what_resolvers_read() {
        let conf = parse(
            "# comment\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver bogus\ndomain old.example\nsearch a.example b.example ; x\noptions ndots:2\noptions edns0 trust-ad\n",
        );
        assert_eq!(conf.nameservers, ips(&["10.0.0.2"]));
        assert_eq!(conf.search, ["a.example", "b.example"]);
        assert_eq!(conf.options, ["ndots:2", "edns0", "trust-ad"]);
    }

    #[test]
    fn a_systemd_resolved_stub_is_replaced_by_its_upstreams() {
        let stub = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n";
        let upstream = "nameserver 10.213.0.1\nnameserver 10.213.0.2\nsearch corp\n";
        let conf = host_for_containers(stub, Some(upstream));
        assert_eq!(conf.nameservers, ips(&["10.213.0.1", "10.213.0.2"]));
        assert_eq!(conf.search, ["lan"], "the host's own search list is kept");
        assert_eq!(conf.options, ["edns0", "trust-ad"]);
        // Without systemd-resolved: no loopback nameserver reaches the container.
        assert!(host_for_containers("nameserver 127.0.0.1\nnameserver ::1\n", None).nameservers.is_empty());
        // A real one beside a loopback one: the real one only.
        assert_eq!(host_for_containers("nameserver 127.0.0.53\nnameserver 192.0.2.53\n", Some(upstream)).nameservers, ips(&["192.0.2.53"]));
    }

    #[test]
    fn upstreams_for_the_embedded_resolver() {
        let stub = "nameserver 127.0.0.53\n";
        let upstream = "nameserver 10.213.0.1\n";
        // Rootful: the stub first (split DNS, the host's names), then its upstreams.
        assert_eq!(upstreams(stub, Some(upstream), true), ips(&["127.0.0.53", "10.213.0.1"]));
        // Rootless: the stub is nobody.
        assert_eq!(upstreams(stub, Some(upstream), false), ips(&["10.213.0.1"]));
        // Only a local resolver: reachable rootful (the host's namespace), not rootless.
        assert_eq!(upstreams("nameserver 127.0.0.1\n", None, true), ips(&["127.0.0.1"]));
        assert!(upstreams("nameserver 127.0.0.1\n", None, false).is_empty());
        assert!(upstreams("", None, true).is_empty());
    }

    #[test]
    fn the_users_settings_win() {
        let host = parse("search lan\nnameserver 10.0.0.2\noptions ndots:1 edns0\n");
        let user = DnsConfig { servers: ips(&["1.1.1.1"]), search: vec!["svc.example".into()], options: vec!["ndots:5".into(), "timeout:1".into()] };
        let servers = nameservers(&user, None, &host);
        assert_eq!(render(&servers, &host, &user), "search svc.example\nnameserver 1.1.1.1\noptions ndots:5 timeout:1\n");
        assert_eq!(nameservers(&user, Some("10.89.0.1".parse().unwrap()), &host), ips(&["10.89.0.1"]), "the resolver forwards to 1.1.1.1");
        let default = DnsConfig::default();
        let servers = nameservers(&default, Some("10.89.0.1".parse().unwrap()), &host);
        assert_eq!(render(&servers, &host, &default), "search lan\nnameserver 10.89.0.1\noptions ndots:1 edns0\n");
        assert_eq!(nameservers(&default, None, &host), ips(&["10.0.0.2"]));
        let no_search = DnsConfig { search: vec![".".into()], ..Default::default() };
        assert!(!render(&[], &host, &no_search).contains("search"));
    }
}
