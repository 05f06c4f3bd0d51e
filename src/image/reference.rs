//! Image references, parsed and normalised exactly as docker does:
//! `postgres` is `docker.io/library/postgres:latest`.

use super::digest::Digest;
use std::fmt;
use std::str::FromStr;

pub const DOCKER_HUB: &str = "docker.io";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host, with port if any (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path inside the registry (`library/postgres`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReferenceError {
    #[error("invalid reference format {0:?}: the reference is empty")]
    Empty(String),
    #[error("invalid reference format {0:?}: repository name must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format {input:?}: {what}")]
    Invalid { input: String, what: &'static str },
}

impl Reference {
    /// The tag to use: the given one, or `latest` when there is neither tag nor digest.
    pub fn tag_or_latest(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// What to ask the registry's manifest endpoint for: the digest wins over the tag.
    pub fn manifest_key(&self) -> String {
        match &self.digest {
            Some(d) => d.to_string(),
            None => self.tag_or_latest().unwrap_or("latest").to_string(),
        }
    }

    /// `docker.io/library/postgres` shown as docker shows it: `postgres`.
    pub fn familiar_repository(&self) -> String {
        if self.registry == DOCKER_HUB {
            match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// Full name without tag or digest: `docker.io/library/postgres`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The canonical tagged form stored in the image index: `docker.io/library/postgres:15`.
    pub fn tagged(&self) -> Option<String> {
        self.tag_or_latest().map(|t| format!("{}:{t}", self.name()))
    }

    /// Short human form, `postgres:15` or `127.0.0.1:5000/x/y@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        if let Some(t) = self.tag_or_latest() {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = self.tag_or_latest() {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    /// The grammar of distribution/reference (`name[:tag][@digest]`, see
    /// [`split`]) and Docker Hub's normalisation; rde adds its own explanations of
    /// what is wrong and keeps an absent tag absent.
    fn from_str(input: &str) -> Result<Reference, ReferenceError> {
        let invalid = |what| ReferenceError::Invalid { input: input.to_string(), what };
        if input.is_empty() {
            return Err(ReferenceError::Empty(input.to_string()));
        }
        let Some((name, tag, digest)) = split(input) else {
            let (rest, _) = input.split_once('@').unwrap_or((input, ""));
            let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
            let (name, tag) = match rest[last_slash..].find(':') {
                Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
                None => (rest, None),
            };
            let repository = name.split_once('/').filter(|(first, _)| first.contains(['.', ':']) || *first == "localhost").map_or(name, |(_, path)| path);
            return Err(if repository.chars().any(|c| c.is_ascii_uppercase()) {
                ReferenceError::Uppercase(input.to_string())
            } else if tag.is_some_and(|t| !valid_tag(t)) {
                invalid("tag must be 1-128 of [A-Za-z0-9_.-] and not start with '.' or '-'")
            } else if !valid_host(name.split_once('/').map_or("", |(h, _)| h)) && name.split_once('/').is_some_and(|(h, _)| h.contains(['.', ':'])) {
                invalid("bad registry host")
            } else if input.contains('@') {
                invalid("bad digest after '@'")
            } else {
                invalid("repository path components must be lowercase letters, digits and separators (. _ __ -)")
            });
        };
        let (registry, repository) = split_domain(name);
        if repository.len() > 255 {
            return Err(invalid("name longer than 255 characters"));
        }
        let digest = match digest {
            Some(d) => Some(d.parse::<Digest>().map_err(|_| invalid("bad digest after '@'"))?),
            None => None,
        };
        Ok(Reference { registry, repository, tag: tag.map(str::to_string), digest })
    }
}

/// `name[:tag][@digest]` split by distribution/reference's grammar (its
/// `ReferenceRegexp`, with Go's ASCII `\w`), or None when it does not match:
///
/// ```text
/// name      := [domain '/'] component ('/' component)*
/// domain    := host [':' digits]        host := label ('.' label)*
/// label     := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
/// component := [a-z0-9]+ (('.' | '_' | '__' | '-'*) [a-z0-9]+)*
/// tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
/// digest    := algorithm ':' [0-9a-fA-F]{32,}
/// algorithm := [A-Za-z][A-Za-z0-9]* ([-_+.] [A-Za-z][A-Za-z0-9]*)*
/// ```
///
/// Matched by hand: the regular expression costs about 30 ms to compile in
/// every process that parses a reference (its Unicode `\w`), which is most of
/// what `rde run` spends before the container starts.
fn split(input: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (rest, digest) = match input.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest).filter(|d| valid_digest(d))?.into()),
        None => (input, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if tag.is_some_and(|t| !valid_tag(t)) {
        return None;
    }
    let mut parts = name.split('/');
    let first = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let first_ok = valid_component(first) || (!rest.is_empty() && valid_domain(first));
    (first_ok && rest.iter().all(|c| valid_component(c))).then_some((name, tag, digest))
}

/// A path component: lowercase alphanumeric runs joined by `.`, `_`, `__` or dashes.
fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
        return false;
    }
    // Every run of separators between alphanumerics is one of the allowed ones.
    bytes.split(alnum).filter(|sep| !sep.is_empty()).all(|sep| matches!(sep, b"." | b"_" | b"__") || sep.iter().all(|b| *b == b'-'))
}

/// `host[:port]` as the reference grammar has it (no IPv6 literals).
fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric() && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    host.split('.').all(label_ok) && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else { return false };
    let part_ok = |p: &str| p.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) && p.bytes().all(|b| b.is_ascii_alphanumeric());
    hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && algorithm.split(['-', '_', '+', '.']).all(part_ok)
}

/// Docker Hub's normalisation (distribution/reference's `splitDockerDomain`):
/// a first component with no `.` or `:` that is not `localhost` is a path on
/// docker.io, and a single name there is an official image under `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first.to_string(), rest.to_string()),
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = DOCKER_HUB.to_string();
    }
    if domain == DOCKER_HUB && !path.contains('/') {
        path = format!("library/{path}");
    }
    (domain, path)
}

fn valid_tag(tag: &str) -> bool {
    let first_ok = tag.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && tag.len() <= 128 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.contains(']') || n.ends_with(']') => (n, Some(p)),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    let name_ok = !name.is_empty()
        && (name.starts_with('[') && name.ends_with(']') || name.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')));
    port_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("postgres", "docker.io/library/postgres:latest"),
            ("postgres:15", "docker.io/library/postgres:15"),
            ("library/python:3.11-slim", "docker.io/library/python:3.11-slim"),
            ("docker.io/library/python:3.11", "docker.io/library/python:3.11"),
            ("index.docker.io/foo/bar", "docker.io/foo/bar:latest"),
            ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
            ("ghcr.io/org/app:tag", "ghcr.io/org/app:tag"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app:v1", "localhost:5000/app:v1"),
            ("127.0.0.1:5000/x/y:z", "127.0.0.1:5000/x/y:z"),
            ("quay.io/a/b/c/d:1.0_rc-2", "quay.io/a/b/c/d:1.0_rc-2"),
            ("my_repo/with__double.dots-and--dashes", "docker.io/my_repo/with__double.dots-and--dashes:latest"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).to_string(), want, "{input}");
        }
    }

    /// The hand-written matcher agrees with oci-spec's regular expression (which
    /// follows distribution/reference) on what parses and how it normalises.
    #[test]
    fn agrees_with_oci_spec() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let long = "a".repeat(250);
        let inputs = [
            "busybox",
            "test.com:tag",
            "test.com:5000",
            "test.com/repo:tag",
            "test:5000/repo",
            "test:5000/repo:tag",
            "lowercase:Uppercase",
            "Uppercase:tag",
            "foo_bar.com:8080",
            "foo/foo_bar.com:8080",
            "sub-dom1.foo.com/bar/baz/quux",
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
            "b.gcr.io/test.example.com/my-app:test.example.com",
            "xn--n3h.com/myimage:xn--n3h.com",
            "192.168.1.1/app",
            "192.168.1.1:5000/app:1",
            "a.b-.c/x",
            "-a.com/x",
            "a_b.com/x",
            "localhost/x",
            "localhost:5000/x/y",
            "a//b",
            "a/",
            "/a",
            "a:",
            ":a",
            "a::b",
            "a@",
            "@a",
            "a b",
            "a--b",
            "a---b",
            "a__b",
            "a___b",
            "a._b",
            "a..b",
            "a.-b",
            "a-",
            "-a",
            "_a",
            "a_",
            "a:-tag",
            "a:.tag",
            "a:_tag",
            "a:tag-",
            "UPPER/x",
            "x/UPPER",
            "host.com/UPPER",
            "HOST.com/lower",
            "index.docker.io/x",
            "index.docker.io/x/y",
            "docker.io/x",
            "docker.io/library/x",
            "[::1]:5000/x",
            "a:5000b/x",
            "a:/x",
            "a.com:/x",
            "repo@sha256:abc",
            "repo@sha256",
            "repo@:abc",
            "repo@1sha:e3b0c44298fc1c149afbf4c8996fb924",
            "repo@sha256+b64:e3b0c44298fc1c149afbf4c8996fb924",
            "a:b:c",
            "a/b:c/d",
            "a/b@c:d",
        ];
        let mut all: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
        all.extend([
            format!("repo@{d}"),
            format!("repo:tag@{d}"),
            format!("host:5/a/b:t@{d}"),
            format!("{long}/{long}"),
            format!("a:{}", "t".repeat(128)),
            format!("a:{}", "t".repeat(129)),
        ]);
        for input in &all {
            let ours = split(input).map(|(name, tag, digest)| {
                let (registry, repository) = split_domain(name);
                (registry, repository, tag.map(str::to_string), digest.map(str::to_string))
            });
            let theirs = oci_spec::distribution::Reference::try_from(input.as_str()).ok().map(|r| {
                // oci-spec fills in `latest`; rde keeps an absent tag absent.
                let tag =
                    r.tag().filter(|_| input.rsplit('/').next().is_some_and(|last| last.split('@').next().unwrap_or("").contains(':'))).map(str::to_string);
                (r.registry().to_string(), r.repository().to_string(), tag, r.digest().map(str::to_string))
            });
            // oci-spec also refuses over-long names and unknown digest algorithms, which rde checks after splitting.
            if theirs.is_none() && ours.as_ref().is_some_and(|o| o.1.len() > 255 || o.3.as_ref().is_some_and(|d| !d.starts_with("sha256:") || d.len() != 71)) {
                continue;
            }
            assert_eq!(ours, theirs, "{input}");
        }
        // Go's \w is ASCII: a Unicode tag is refused (oci-spec's regex accepts it).
        assert!("busybox:t\u{e0}g".parse::<Reference>().is_err());
    }

    #[test]
    fn digests() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = parse(&format!("127.0.0.1:5000/x/y@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_key(), d);
        assert_eq!(r.tag_or_latest(), None);
        let r = parse(&format!("postgres:15@{d}"));
        assert_eq!(r.tag.as_deref(), Some("15"));
        assert_eq!(r.manifest_key(), d);
        assert_eq!(r.to_string(), format!("docker.io/library/postgres:15@{d}"));
    }

    #[test]
    fn familiar_forms() {
        assert_eq!(parse("postgres:15").familiar(), "postgres:15");
        assert_eq!(parse("foo/bar").familiar(), "foo/bar:latest");
        assert_eq!(parse("127.0.0.1:5000/library/busybox").familiar_repository(), "127.0.0.1:5000/library/busybox");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "Postgres",
            "postgres:",
            "postgres:-x",
            "postgres@sha256:abc",
            "a//b",
            "-a",
            "a-",
            "a/.b",
            "host:port/x",
            "x:y:z",
            "post gres",
            "a___b",
            &format!("x:{}", "t".repeat(129)),
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad:?} should be rejected");
        }
        assert!(matches!("Postgres".parse::<Reference>(), Err(ReferenceError::Uppercase(_))));
    }
}
