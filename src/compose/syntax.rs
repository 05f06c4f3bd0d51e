//! Parsers for compose's compact string syntaxes, independent of YAML: ports, volumes,
//! durations (`1m30s`), byte sizes (`512m`), and shell-like command splitting.
//! Each returns a plain message on failure; the caller adds file, line and field.

use std::time::Duration;

use super::model::{BindOptions, MountType, PortMapping, PortRange, VolumeMount, VolumeOptions};
use super::paths;

/// `[ip:][published[-end]:]target[-end][/protocol]`, e.g. `8000`, `8000:8000`,
/// `127.0.0.1:8001:8001`, `9090-9091:8080-8081`, `[::1]:53:53/udp`, `127.0.0.1::5000`.
pub fn parse_port(spec: &str) -> Result<Vec<PortMapping>, String> {
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, p.to_string()),
        None => (spec, "tcp".to_string()),
    };
    if !["tcp", "udp", "sctp"].contains(&protocol.as_str()) {
        return Err(format!("invalid protocol {protocol:?} in port {spec:?} (use tcp, udp or sctp)"));
    }
    let (host_ip, rest) = if let Some(stripped) = addr.strip_prefix('[') {
        let (ip, rest) = stripped.split_once(']').ok_or_else(|| format!("invalid IPv6 address in port {spec:?}"))?;
        (Some(ip.to_string()), rest.strip_prefix(':').unwrap_or(rest))
    } else {
        let parts: Vec<&str> = addr.split(':').collect();
        if parts.len() >= 3 {
            let split = addr.len() - parts[parts.len() - 2].len() - parts[parts.len() - 1].len() - 2;
            (Some(addr[..split].to_string()), &addr[split + 1..])
        } else {
            (None, addr)
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((p, t)) => (Some(p), t),
        None => (None, rest),
    };
    let target = parse_range(target).map_err(|e| format!("{e} in port {spec:?}"))?;
    let published = match published.filter(|p| !p.is_empty()) {
        Some(p) => Some(parse_range(p).map_err(|e| format!("{e} in port {spec:?}"))?),
        None => None,
    };
    let host_ip = host_ip.filter(|ip| !ip.is_empty());
    let mapping = |target: u16, published: Option<PortRange>| PortMapping {
        name: None,
        mode: "ingress".into(),
        host_ip: host_ip.clone(),
        target,
        published,
        protocol: protocol.clone(),
        app_protocol: None,
    };
    let target_len = target.end - target.start;
    match published {
        Some(p) if target_len == 0 => Ok(vec![mapping(target.start, Some(p))]),
        Some(p) if p.end - p.start == target_len => {
            Ok((0..=target_len).map(|i| mapping(target.start + i, Some(PortRange { start: p.start + i, end: p.start + i }))).collect())
        }
        Some(_) => Err(format!("port ranges of different sizes in {spec:?}")),
        None => Ok((target.start..=target.end).map(|t| mapping(t, None)).collect()),
    }
}

pub fn parse_range(text: &str) -> Result<PortRange, String> {
    let number = |s: &str| s.trim().parse::<u16>().map_err(|_| format!("invalid port {s:?}"));
    let range = match text.split_once('-') {
        Some((a, b)) => PortRange { start: number(a)?, end: number(b)? },
        None => {
            let n = number(text)?;
            PortRange { start: n, end: n }
        }
    };
    if range.end < range.start {
        return Err(format!("invalid port range {text:?}"));
    }
    Ok(range)
}

/// `[source:]target[:options]` where options are a comma list of `ro`, `rw`, `z`, `Z`,
/// `nocopy`, a propagation mode or a consistency. Relative sources were already made
/// absolute; a source that is not a path names a volume.
pub fn parse_volume(spec: &str, home: Option<&str>) -> Result<VolumeMount, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, options] => (Some(*source), *target, Some(*options)),
        _ => return Err(format!("too many colons in volume {spec:?}")),
    };
    if target.is_empty() {
        return Err(format!("empty container path in volume {spec:?}"));
    }
    if !target.starts_with('/') {
        return Err(format!("container path {target:?} in volume {spec:?} must be absolute"));
    }
    let source = source.filter(|s| !s.is_empty());
    let is_bind = source.is_some_and(paths::is_host_path);
    let mut mount = VolumeMount {
        kind: if is_bind { MountType::Bind } else { MountType::Volume },
        source: source.map(|s| if is_bind { paths::expand_tilde(s, home) } else { s.to_string() }),
        target: target.to_string(),
        read_only: false,
        consistency: None,
        bind: is_bind.then(|| BindOptions { create_host_path: true, ..Default::default() }),
        volume: (!is_bind).then(VolumeOptions::default),
        tmpfs: None,
        image_subpath: None,
    };
    for option in options.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => mount.read_only = true,
            "rw" => mount.read_only = false,
            "z" | "Z" => match &mut mount.bind {
                Some(bind) => bind.selinux = Some(option.to_string()),
                None => {
                    return Err(format!("option {option:?} only applies to bind mounts in volume {spec:?}"));
                }
            },
            "nocopy" => match &mut mount.volume {
                Some(volume) => volume.nocopy = true,
                None => {
                    return Err(format!("option \"nocopy\" only applies to named volumes in volume {spec:?}"));
                }
            },
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => match &mut mount.bind {
                Some(bind) => bind.propagation = Some(option.to_string()),
                None => {
                    return Err(format!("propagation {option:?} only applies to bind mounts in volume {spec:?}"));
                }
            },
            "cached" | "delegated" | "consistent" => mount.consistency = Some(option.to_string()),
            other => return Err(format!("unknown option {other:?} in volume {spec:?}")),
        }
    }
    Ok(mount)
}

/// Go duration syntax as compose uses it: `10s`, `1m30s`, `1.5h`, `500ms`, `2us`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?} (write a number with a unit, such as 30s, 1m30s or 500ms)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * nanos_per_unit;
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Go's `time.Duration.String()`: `10s`, `1m30s`, `1h0m0s`, `1.5s`, `500ms`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    let fraction = |value: u128, scale: u128| -> String {
        let whole = value / scale;
        let frac = value % scale;
        if frac == 0 {
            whole.to_string()
        } else {
            let width = scale.to_string().len() - 1;
            let digits = format!("{frac:0width$}");
            format!("{whole}.{}", digits.trim_end_matches('0'))
        }
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", fraction(nanos, 1_000_000));
    }
    let total_seconds = nanos / 1_000_000_000;
    let seconds = format!("{}s", fraction(nanos % 60_000_000_000, 1_000_000_000));
    let minutes = total_seconds / 60;
    let hours = minutes / 60;
    if hours > 0 {
        format!("{hours}h{}m{seconds}", minutes % 60)
    } else if minutes > 0 {
        format!("{minutes}m{seconds}")
    } else {
        seconds
    }
}

/// Byte sizes like docker's RAMInBytes: `1024`, `512m`, `1.5g`, `100kb`, `2GiB` (powers of 1024).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {text:?} (write a number with an optional unit b, k, m, g, t, such as 512m)");
    let lower = text.trim().to_ascii_lowercase();
    let number_len = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
    let number: f64 = lower[..number_len].parse().map_err(|_| bad())?;
    let unit = lower[number_len..].trim_start();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let multiplier: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    Ok((number * multiplier as f64) as u64)
}

/// Splits a command string into words like a POSIX shell (quotes and backslashes; no
/// expansion), as compose does for `command: echo "hello world"`.
pub fn shell_split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(next) => current.push(next),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => current.push(ch),
                        None => return Err(format!("unterminated single quote in {text:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => current.push(ch),
                            Some('\n') => {}
                            Some(ch) => {
                                current.push('\\');
                                current.push(ch);
                            }
                            None => return Err(format!("unterminated double quote in {text:?}")),
                        },
                        Some(ch) => current.push(ch),
                        None => return Err(format!("unterminated double quote in {text:?}")),
                    }
                }
            }
            other => {
                in_word = true;
                current.push(other);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(spec: &str) -> Vec<(Option<String>, Option<String>, u16, String)> {
        parse_port(spec).unwrap().into_iter().map(|p| (p.host_ip, p.published.map(|r| r.to_string()), p.target, p.protocol)).collect()
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn port_short_syntax_table() {
        assert_eq!(ports("3000"), vec![(None, None, 3000, "tcp".into())]);
        assert_eq!(ports("3000-3001"), vec![(None, None, 3000, "tcp".into()), (None, None, 3001, "tcp".into())]);
        assert_eq!(ports("8000:8000"), vec![(None, some("8000"), 8000, "tcp".into())]);
        assert_eq!(ports("49100:22"), vec![(None, some("49100"), 22, "tcp".into())]);
        assert_eq!(ports("9090-9091:8080-8081"), vec![(None, some("9090"), 8080, "tcp".into()), (None, some("9091"), 8081, "tcp".into())]);
        assert_eq!(ports("8000-8010:80"), vec![(None, some("8000-8010"), 80, "tcp".into())]);
        assert_eq!(ports("127.0.0.1:8001:8001"), vec![(some("127.0.0.1"), some("8001"), 8001, "tcp".into())]);
        assert_eq!(ports("127.0.0.1::5000"), vec![(some("127.0.0.1"), None, 5000, "tcp".into())]);
        assert_eq!(ports("6060:6060/udp"), vec![(None, some("6060"), 6060, "udp".into())]);
        assert_eq!(ports("[::1]:6001:6001"), vec![(some("::1"), some("6001"), 6001, "tcp".into())]);
        assert_eq!(ports("::1:6000:6000"), vec![(some("::1"), some("6000"), 6000, "tcp".into())]);
        for bad in ["abc", "80:http", "8000:80/icmp", "99999", "81-80", "8000-8001:80-82", "80:90-91"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volume_short_syntax_table() {
        let bind = parse_volume("/srv/data:/data:ro,z", None).unwrap();
        assert_eq!(bind.kind, MountType::Bind);
        assert_eq!(bind.source.as_deref(), Some("/srv/data"));
        assert!(bind.read_only);
        assert_eq!(bind.bind.as_ref().unwrap().selinux.as_deref(), Some("z"));
        assert!(bind.bind.unwrap().create_host_path);

        let named = parse_volume("pgdata:/var/lib/postgresql/data:nocopy", None).unwrap();
        assert_eq!(named.kind, MountType::Volume);
        assert_eq!(named.source.as_deref(), Some("pgdata"));
        assert!(named.volume.unwrap().nocopy);

        let anonymous = parse_volume("/var/cache", None).unwrap();
        assert_eq!((anonymous.kind, anonymous.source), (MountType::Volume, None));

        let home = parse_volume("~/.ssh:/root/.ssh:ro", Some("/home/me")).unwrap();
        assert_eq!(home.source.as_deref(), Some("/home/me/.ssh"));

        let propagated = parse_volume("/a:/b:rshared", None).unwrap();
        assert_eq!(propagated.bind.unwrap().propagation.as_deref(), Some("rshared"));

        for bad in ["a:b:c:d", "vol:relative", "vol:/x:bogus", "vol:/x:z", "/a:/b:nocopy"] {
            assert!(parse_volume(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        let cases = [("10s", 10_000), ("1m30s", 90_000), ("1h", 3_600_000), ("1.5s", 1_500), ("500ms", 500), ("2h45m", 9_900_000), ("0", 0), ("0s", 0)];
        for (text, millis) in cases {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(millis)), "{text}");
        }
        for bad in ["", "10", "1x", "s", "1m30"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let formatted =
            [(10_000, "10s"), (90_000, "1m30s"), (3_600_000, "1h0m0s"), (1_500, "1.5s"), (500, "500ms"), (300_000, "5m0s"), (9_900_000, "2h45m0s"), (0, "0s")];
        for (millis, text) in formatted {
            assert_eq!(format_duration(Duration::from_millis(millis)), text);
        }
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
    }

    #[test]
    fn byte_sizes() {
        let cases =
            [("1024", 1024), ("512m", 512 << 20), ("1g", 1 << 30), ("1.5g", 3 << 29), ("100kb", 102_400), ("2GiB", 2 << 30), ("64M", 64 << 20), ("10 b", 10)];
        for (text, bytes) in cases {
            assert_eq!(parse_bytes(text), Ok(bytes), "{text}");
        }
        for bad in ["", "m", "12x", "-1"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shell_splitting() {
        let cases: &[(&str, &[&str])] = &[
            ("python manage.py runserver 0:8000", &["python", "manage.py", "runserver", "0:8000"]),
            ("gunicorn config.wsgi:application --bind 0.0.0.0:8000 ", &["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]),
            ("sh -c 'echo $HOME && ls'", &["sh", "-c", "echo $HOME && ls"]),
            (r#"echo "a \"quoted\" word" b\ c"#, &["echo", "a \"quoted\" word", "b c"]),
            ("  ", &[]),
            ("''", &[""]),
        ];
        for (text, words) in cases {
            assert_eq!(shell_split(text).unwrap(), words.iter().map(|w| w.to_string()).collect::<Vec<_>>(), "{text}");
        }
        assert!(shell_split("echo 'open").is_err());
    }
}
