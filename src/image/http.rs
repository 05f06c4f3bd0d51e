//! HTTP agents for registries and for a build's `ADD <url>`: TLS trusts the
//! system's CA store (what `/etc/ssl/certs` holds, through rustls-native-certs;
//! the bundled Mozilla roots only when the system has none) plus a registry's
//! own CAs from `certs.d` directories (`<dir>/<host[:port]>/*.crt`, as docker and
//! containers/image read them); requests go through the proxy the environment
//! names (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, as Go's net/http reads them,
//! so that rde behaves as docker and podman do behind a company proxy).

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("CA certificate {path}: {message}; hint: certs.d files hold PEM certificates (ca.crt, *.crt)")]
    BadCa { path: PathBuf, message: String },
    #[error("proxy {url:?} from {var}: {message}; hint: e.g. {var}=http://proxy.example.com:3128")]
    BadProxy { var: &'static str, url: String, message: String },
}

/// Where registries' own CAs are looked for, in order: `RDE_CERTS_D`
/// (colon-separated) when set, else `/etc/containers/certs.d`,
/// `/etc/docker/certs.d` and, rootless, `~/.config/containers/certs.d`.
pub fn default_certs_dirs() -> Vec<PathBuf> {
    if let Ok(dirs) = std::env::var("RDE_CERTS_D") {
        return std::env::split_paths(&dirs).collect();
    }
    let mut dirs = vec![PathBuf::from("/etc/containers/certs.d"), PathBuf::from("/etc/docker/certs.d")];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".config/containers/certs.d"));
    }
    dirs
}

/// The proxy settings of the environment (Go's `httpproxy.FromEnvironment`):
/// upper case wins over lower case; loopback is never proxied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyEnv {
    pub http: Option<String>,
    pub https: Option<String>,
    /// `NO_PROXY` entries, lower case: `*`, a host (and its subdomains), `.domain`
    /// (subdomains only), an IP, a CIDR, each optionally with `:port`.
    pub no_proxy: Vec<String>,
}

impl ProxyEnv {
    pub fn from_env() -> ProxyEnv {
        let get = |names: [&str; 2]| names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()));
        ProxyEnv {
            http: get(["HTTP_PROXY", "http_proxy"]),
            https: get(["HTTPS_PROXY", "https_proxy"]),
            no_proxy: get(["NO_PROXY", "no_proxy"])
                .map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        }
    }

    /// The proxy for a request to `scheme://host:port`, if one applies.
    pub fn for_target(&self, scheme: &str, host: &str, port: u16) -> Option<(&'static str, &str)> {
        let (var, proxy) = match scheme {
            "https" => ("HTTPS_PROXY", self.https.as_deref()?),
            _ => ("HTTP_PROXY", self.http.as_deref()?),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
            return None;
        }
        (!self.bypassed(&host, port)).then_some((var, proxy))
    }

    fn bypassed(&self, host: &str, port: u16) -> bool {
        let ip = host.parse::<IpAddr>().ok();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return match (ip, net.parse::<IpAddr>(), bits.parse::<u32>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
                    _ => false,
                };
            }
            // An entry may carry a port: then only that port matches (`[v6]:port`; a bare v6 has none).
            let (name, entry_port) = if let Some(v6) = entry.strip_prefix('[') {
                let (h, after) = v6.split_once(']').unwrap_or((v6, ""));
                (h, after.strip_prefix(':').and_then(|p| p.parse::<u16>().ok()))
            } else if entry.matches(':').count() > 1 {
                (entry.as_str(), None)
            } else {
                match entry.rsplit_once(':') {
                    Some((n, p)) => (n, p.parse::<u16>().ok()),
                    None => (entry.as_str(), None),
                }
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            if let (Some(ip), Ok(e)) = (ip, name.parse::<IpAddr>()) {
                return ip == e;
            }
            match name.strip_prefix('.') {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => host == name || host.ends_with(&format!(".{name}")),
            }
        })
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// One agent per (scheme, host, port): its TLS roots and proxy decided once.
pub struct HttpClients {
    certs_dirs: Vec<PathBuf>,
    proxy: ProxyEnv,
    agents: Mutex<HashMap<String, ureq::Agent>>,
    timeout_read: Duration,
    redirect_auth: ureq::RedirectAuthHeaders,
}

/// The system's roots, read once per process.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = store.add(cert);
            }
            if store.is_empty() {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(store)
        })
        .clone()
}

impl HttpClients {
    /// Clients reading `certs_dirs` for per-registry CAs and the proxy from the environment.
    pub fn new(certs_dirs: Vec<PathBuf>, timeout_read: Duration, redirect_auth: ureq::RedirectAuthHeaders) -> HttpClients {
        HttpClients { certs_dirs, proxy: ProxyEnv::from_env(), agents: Mutex::new(HashMap::new()), timeout_read, redirect_auth }
    }

    /// The agent for `url` (`scheme://host[:port]/...`).
    pub fn agent(&self, url: &str) -> Result<ureq::Agent, HttpError> {
        let (scheme, host, port) = split_url(url);
        let key = format!("{scheme}://{host}:{port}");
        if let Some(agent) = self.agents.lock().unwrap().get(&key) {
            return Ok(agent.clone());
        }
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(self.timeout_read)
            .user_agent(concat!("rde/", env!("CARGO_PKG_VERSION")))
            .redirects(5)
            .redirect_auth_headers(self.redirect_auth.clone())
            .tls_config(Arc::new(self.tls_config(&host, port)?));
        if let Some((var, proxy)) = self.proxy.for_target(&scheme, &host, port) {
            let p = ureq::Proxy::new(proxy).map_err(|e| HttpError::BadProxy { var, url: proxy.to_string(), message: e.to_string() })?;
            builder = builder.proxy(p);
        }
        let agent = builder.build();
        self.agents.lock().unwrap().insert(key, agent.clone());
        Ok(agent)
    }

    /// The system's roots plus the CAs in `<certs.d>/<host:port>/` (or `<host>/` for 443).
    fn tls_config(&self, host: &str, port: u16) -> Result<rustls::ClientConfig, HttpError> {
        let mut roots = (*system_roots()).clone();
        let names = if port == 443 { vec![host.to_string(), format!("{host}:{port}")] } else { vec![format!("{host}:{port}")] };
        for dir in &self.certs_dirs {
            for name in &names {
                for path in ca_files(&dir.join(name)) {
                    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                        .map_err(|e| HttpError::BadCa { path: path.clone(), message: e.to_string() })?;
                    if certs.is_empty() {
                        return Err(HttpError::BadCa { path, message: "no certificate in it".into() });
                    }
                    for cert in certs {
                        roots.add(cert).map_err(|e| HttpError::BadCa { path: path.clone(), message: e.to_string() })?;
                    }
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(config)
    }
}

/// `*.crt` files of a certs.d host directory, sorted (docker reads `ca.crt`; containers/image any `*.crt`).
fn ca_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "crt")).collect()).unwrap_or_default();
    out.sort();
    out
}

/// (scheme, host, port) of a URL, the port defaulted by scheme.
fn split_url(url: &str) -> (String, String, u16) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default = if scheme == "http" { 80 } else { 443 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').unwrap_or((v6, ""));
        (h.to_string(), after.strip_prefix(':').and_then(|p| p.parse().ok()).unwrap_or(default))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().unwrap_or(default)),
            None => (authority.to_string(), default),
        }
    };
    (scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(http: Option<&str>, https: Option<&str>, no: &str) -> ProxyEnv {
        ProxyEnv {
            http: http.map(str::to_string),
            https: https.map(str::to_string),
            no_proxy: no.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect(),
        }
    }

    #[test]
    fn no_proxy_follows_go_net_http() {
        let p = env(Some("http://proxy:3128"), Some("http://sproxy:3128"), "foo.com, .y.com, 10.0.0.0/8, 192.168.1.5, registry.lan:5000, [::2]");
        let via = |scheme: &str, host: &str, port: u16| p.for_target(scheme, host, port).map(|(_, u)| u.to_string());
        assert_eq!(via("https", "registry-1.docker.io", 443).as_deref(), Some("http://sproxy:3128"));
        assert_eq!(via("http", "example.org", 80).as_deref(), Some("http://proxy:3128"));
        // A domain and its subdomains; a leading dot: subdomains only.
        assert_eq!(via("https", "foo.com", 443), None);
        assert_eq!(via("https", "bar.foo.com", 443), None);
        assert_eq!(via("https", "xfoo.com", 443).as_deref(), Some("http://sproxy:3128"));
        assert_eq!(via("https", "x.y.com", 443), None);
        assert_eq!(via("https", "y.com", 443).as_deref(), Some("http://sproxy:3128"));
        // IPs and CIDRs; ports when the entry names one.
        assert_eq!(via("https", "10.1.2.3", 443), None);
        assert_eq!(via("https", "11.1.2.3", 443).as_deref(), Some("http://sproxy:3128"));
        assert_eq!(via("https", "192.168.1.5", 5000), None);
        assert_eq!(via("https", "registry.lan", 5000), None);
        assert_eq!(via("https", "registry.lan", 443).as_deref(), Some("http://sproxy:3128"));
        assert_eq!(via("https", "::2", 443), None);
        // Loopback never goes through a proxy.
        assert_eq!(via("http", "127.0.0.1", 5000), None);
        assert_eq!(via("https", "localhost", 443), None);
        assert_eq!(via("https", "::1", 443), None);
        assert_eq!(env(None, Some("http://p:1"), "*").for_target("https", "any.host", 443), None);
        assert_eq!(env(None, Some("http://p:1"), "").for_target("http", "any.host", 80), None, "HTTPS_PROXY does not serve http URLs");
    }

    #[test]
    fn urls_split_into_scheme_host_and_port() {
        assert_eq!(split_url("https://Registry.Example.com/v2/"), ("https".into(), "registry.example.com".into(), 443));
        assert_eq!(split_url("http://127.0.0.1:5000/v2/x"), ("http".into(), "127.0.0.1".into(), 5000));
        assert_eq!(split_url("https://[::1]:8443/x"), ("https".into(), "::1".into(), 8443));
        assert_eq!(split_url("https://user:pw@host/x"), ("https".into(), "host".into(), 443));
    }

    #[test]
    fn a_registrys_own_ca_is_read_from_certs_d_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let host_dir = dir.path().join("registry.lan:5000");
        std::fs::create_dir_all(&host_dir).unwrap();
        std::fs::write(host_dir.join("ca.crt"), "not a certificate\n").unwrap();
        let clients = HttpClients::new(vec![dir.path().to_path_buf()], Duration::from_secs(5), ureq::RedirectAuthHeaders::Never);
        let err = clients.agent("https://registry.lan:5000/v2/").unwrap_err().to_string();
        assert!(err.contains("ca.crt") && err.contains("no certificate"), "{err}");
        // Other registries are not affected.
        assert!(clients.agent("https://other.lan:5000/v2/").is_ok());
    }
}
