//! Name resolution through each container's /etc/hosts: its own names, then
//! every peer on its networks. glibc and musl read the file on every lookup,
//! so a rewrite is seen at once. The file is bind-mounted into the container,
//! so it is rewritten in place (a rename would leave the mount on the old file).

use std::io::{Seek, Write};
use std::net::IpAddr;
use std::path::Path;

/// One line's worth: an address and the names that resolve to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub ip: IpAddr,
    pub names: Vec<String>,
}

/// The whole file: loopback, the user's extra hosts (`--add-host`, compose
/// `extra_hosts`), the container itself, its peers (each name once, first network
/// first, as a name on two networks resolves to the first).
pub fn render(extra: &[Entry], own: &[Entry], peers: &[Entry]) -> String {
    let mut text = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for entry in extra {
        text.push_str(&format!("{}\t{}\n", entry.ip, entry.names.join(" ")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for entry in own.iter().chain(peers) {
        // Each name once per address family.
        let names: Vec<&str> =
            entry.names.iter().map(String::as_str).filter(|n| valid_host_name(n) && seen.insert((entry.ip.is_ipv6(), n.to_string()))).collect();
        if !names.is_empty() {
            text.push_str(&format!("{}\t{}\n", entry.ip, names.join(" ")));
        }
    }
    text
}

/// A name that can stand in /etc/hosts: 1 to 253 bytes of letters, digits,
/// `-`, `_` and `.` (RFC 1123 plus the `_` docker allows in container names).
/// Anything else (a space, a newline, `#`) would add entries for other names.
pub fn valid_host_name(name: &str) -> bool {
    (1..=253).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Replace the file's content without replacing the file.
pub fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(text.as_bytes())?;
    let len = f.stream_position()?;
    f.set_len(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(ip: &str, names: &[&str]) -> Entry {
        Entry { ip: ip.parse().unwrap(), names: names.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn own_names_first_then_peers_each_name_once() {
        let extra = [e("10.89.1.1", &["host.docker.internal"])];
        let text =
            render(&extra, &[e("10.89.1.2", &["web", "proj-web-1", "abc123"])], &[e("10.89.1.3", &["db", "proj-db-1"]), e("10.89.2.3", &["db", "cache"])]);
        assert_eq!(
            text,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.89.1.1\thost.docker.internal\n10.89.1.2\tweb proj-web-1 abc123\n10.89.1.3\tdb proj-db-1\n10.89.2.3\tcache\n"
        );
    }

    #[test]
    fn rewriting_keeps_the_inode_and_drops_the_old_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "a much longer first version of the file\n").unwrap();
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(&path).unwrap().ino();
        write_in_place(&path, "short\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short\n");
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
    }

    #[test]
    fn names_that_would_forge_entries_are_left_out() {
        let text = render(&[], &[e("10.89.1.2", &["web", "evil\n10.0.0.9 bank", "a b", "#x"])], &[]);
        assert!(text.ends_with("10.89.1.2\tweb\n"), "{text}");
        assert!(valid_host_name("proj-web-1.example_x") && !valid_host_name("") && !valid_host_name(&"a".repeat(254)));
    }
}
