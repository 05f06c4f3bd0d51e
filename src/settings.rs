//! rde's settings file (`/etc/rde/config.toml`, or `~/.config/rde/config.toml`
//! rootless): Docker Hub mirrors and registries allowed over plain HTTP, with
//! the key names of docker's daemon.json, and where networks come from:
//!
//! ```toml
//! registry-mirrors = ["http://127.0.0.1:5000", "https://mirror.example.com"]
//! insecure-registries = ["registry.lan:5000"]
//! # Never contact these registries themselves; their mirrors still serve
//! # (an air-gapped CI, or a test suite that must not reach Docker Hub).
//! blocked-registries = ["docker.io"]
//! # Bridges are named rde0, rde1, ...; the nftables table is `ip rde`.
//! network-prefix = "rde"
//! # Each new network takes a /24 from here.
//! network-pool = "10.89.0.0/16"
//! ```
//!
//! `RDE_REGISTRY_MIRRORS` and `RDE_INSECURE_REGISTRIES` (comma separated) add to it,
//! tried before the file's entries.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub registry_mirrors: Vec<String>,
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    #[serde(default)]
    pub blocked_registries: Vec<String>,
    #[serde(default = "default_network_prefix")]
    pub network_prefix: String,
    #[serde(default = "default_network_pool")]
    pub network_pool: crate::net::ipam::Subnet,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            registry_mirrors: Vec::new(),
            insecure_registries: Vec::new(),
            blocked_registries: Vec::new(),
            network_prefix: default_network_prefix(),
            network_pool: default_network_pool(),
        }
    }
}

fn default_network_prefix() -> String {
    "rde".into()
}

fn default_network_pool() -> crate::net::ipam::Subnet {
    crate::net::ipam::DEFAULT_POOL.parse().expect("valid pool")
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path}: {message}; hint: the keys are registry-mirrors, insecure-registries and blocked-registries (lists of strings), network-prefix and network-pool (strings)"
    )]
    Parse { path: PathBuf, message: String },
    #[error("{origin}: registry mirror {url:?} is not a URL; hint: write it as http://host:port or https://host")]
    BadMirror { origin: String, url: String },
}

/// A place to send registry requests to: `https://registry-1.docker.io`, a mirror, ...
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme and authority, no trailing slash.
    pub base: String,
    /// Host (with port) used to find credentials and to decide about plain HTTP.
    pub host: String,
    pub mirror: bool,
    /// Plain HTTP may be tried when HTTPS fails.
    pub allow_http: bool,
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let mut settings = match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str::<Settings>(&text).map_err(|e| SettingsError::Parse { path: path.into(), message: e.to_string().trim().replace('\n', " ") })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(source) => return Err(SettingsError::Read { path: path.into(), source }),
        };
        let from_env = |key: &str| -> Vec<String> {
            std::env::var(key).unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
        };
        let mut mirrors = from_env("RDE_REGISTRY_MIRRORS");
        mirrors.append(&mut settings.registry_mirrors);
        settings.registry_mirrors = mirrors;
        settings.insecure_registries.extend(from_env("RDE_INSECURE_REGISTRIES"));
        let prefix = &settings.network_prefix;
        // It names bridges (`<prefix>N`, 15 bytes at most) and the nftables table (an identifier).
        if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) || prefix.len() > 8 || !prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(SettingsError::Parse {
                path: path.into(),
                message: format!("network-prefix {prefix:?} must be 1 to 8 lowercase letters or digits, starting with a letter"),
            });
        }
        for url in &settings.registry_mirrors {
            let origin = if std::env::var("RDE_REGISTRY_MIRRORS").unwrap_or_default().contains(url.as_str()) {
                "RDE_REGISTRY_MIRRORS".to_string()
            } else {
                path.display().to_string()
            };
            split_url(url).ok_or_else(|| SettingsError::BadMirror { origin, url: url.clone() })?;
        }
        Ok(settings)
    }

    /// Plain HTTP is allowed for loopback and for registries the user marked insecure.
    pub fn is_insecure(&self, host: &str) -> bool {
        is_loopback(host) || self.insecure_registries.iter().any(|h| h.trim_end_matches('/') == host)
    }

    pub fn is_blocked(&self, registry: &str) -> bool {
        self.blocked_registries.iter().any(|b| b.trim_end_matches('/') == registry)
    }

    /// Where to look for images of `registry`, in order: mirrors first for Docker Hub.
    pub fn endpoints(&self, registry: &str) -> Vec<Endpoint> {
        let mut out = Vec::new();
        if registry == crate::image::reference::DOCKER_HUB {
            for url in &self.registry_mirrors {
                if let Some((scheme, host)) = split_url(url) {
                    let insecure = self.is_insecure(&host);
                    let scheme = scheme.unwrap_or(if insecure { "http" } else { "https" });
                    out.push(Endpoint { base: format!("{scheme}://{host}"), host, mirror: true, allow_http: scheme == "http" });
                }
            }
            if !self.is_blocked(registry) {
                out.push(Endpoint { base: "https://registry-1.docker.io".into(), host: registry.into(), mirror: false, allow_http: false });
            }
        } else if !self.is_blocked(registry) {
            out.push(Endpoint { base: format!("https://{registry}"), host: registry.into(), mirror: false, allow_http: self.is_insecure(registry) });
        }
        out
    }
}

/// `http://host:port/` -> (Some("http"), "host:port"); `host:port` -> (None, "host:port").
fn split_url(url: &str) -> Option<(Option<&'static str>, String)> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        (Some("https"), r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (Some("http"), r)
    } else {
        (None, url)
    };
    let host = rest.trim_end_matches('/');
    let ok = !host.is_empty() && !host.contains('/') && !host.contains(char::is_whitespace) && !host.contains("://");
    ok.then(|| (scheme, host.to_string()))
}

pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') { rest.split(']').next().unwrap_or("") } else { host.rsplit_once(':').map_or(host, |(h, _)| h) };
    name == "localhost" || name == "::1" || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["10.0.0.1:5000", "registry.lan", "128.0.0.1", "localhost.example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn docker_hub_goes_through_mirrors_first() {
        let s = Settings {
            registry_mirrors: vec!["http://127.0.0.1:5000/".into(), "mirror.example.com".into()],
            insecure_registries: vec!["reg.lan:5000".into()],
            blocked_registries: vec![],
            ..Settings::default()
        };
        let eps = s.endpoints("docker.io");
        let bases: Vec<&str> = eps.iter().map(|e| e.base.as_str()).collect();
        assert_eq!(bases, ["http://127.0.0.1:5000", "https://mirror.example.com", "https://registry-1.docker.io"]);
        assert!(eps[0].mirror && eps[0].allow_http && !eps[1].allow_http && !eps[2].mirror);
        assert_eq!(eps[2].host, "docker.io");
        let eps = s.endpoints("reg.lan:5000");
        assert_eq!(eps.len(), 1);
        assert!(eps[0].allow_http);
        assert!(!s.endpoints("ghcr.io")[0].allow_http);
        let blocked = Settings { blocked_registries: vec!["docker.io".into(), "ghcr.io".into()], ..s };
        let bases: Vec<String> = blocked.endpoints("docker.io").into_iter().map(|e| e.base).collect();
        assert_eq!(bases, ["http://127.0.0.1:5000", "https://mirror.example.com"]);
        assert!(blocked.endpoints("ghcr.io").is_empty());
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "registry-mirors = []\n").unwrap();
        let err = Settings::load(&p).unwrap_err().to_string();
        assert!(err.contains("config.toml") && err.contains("registry-mirors"), "{err}");
        std::fs::write(&p, "registry-mirrors = [\"http://a b\"]\n").unwrap();
        assert!(matches!(Settings::load(&p), Err(SettingsError::BadMirror { .. })));
        assert!(Settings::load(&dir.path().join("absent.toml")).is_ok());
    }
}
