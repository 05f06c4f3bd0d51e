//! The registry v2 protocol client: ping, authentication (anonymous and
//! credentialed Bearer tokens, Basic), manifests and streaming blobs, mirrors with
//! fallback, plain HTTP only where allowed.

use super::auth::{Challenge, Credentials, DockerConfig};
use super::digest::Digest;
use super::manifest::ACCEPT;
use super::reference::Reference;
use crate::settings::{Endpoint, Settings};
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

/// Manifests are small; anything bigger is not a manifest.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry {registry} is blocked in {config} and has no mirror; hint: remove it from blocked-registries or add a registry mirror")]
    Blocked { registry: String, config: String },
    #[error("registry {registry} is unreachable: {reason}; hint: check the address and your network")]
    Unreachable { registry: String, reason: String },
    #[error("registry {registry} does not speak HTTPS ({reason}); hint: add it to insecure-registries in {config} to allow plain HTTP")]
    HttpsFailed { registry: String, reason: String, config: String },
    #[error("{what} not found in {registry}: {message}")]
    NotFound { what: String, registry: String, message: String },
    #[error("pull access denied for {repository} on {registry}: the repository does not exist or needs credentials ({message}); hint: check the name, or `rde login {registry}`")]
    Denied { repository: String, registry: String, message: String },
    #[error("authentication to {registry} failed: {message}; hint: check your credentials with `rde login {registry}`")]
    AuthFailed { registry: String, message: String },
    #[error("registry {registry} answered {status} for {url}: {message}")]
    Http { registry: String, status: u16, url: String, message: String },
    #[error("{what} from {registry} is larger than {limit} bytes")]
    TooLarge { what: String, registry: String, limit: u64 },
    #[error("reading from {registry}: {source}")]
    Io { registry: String, source: std::io::Error },
    #[error(transparent)]
    Credentials(#[from] super::auth::AuthError),
}

impl RegistryError {
    /// Errors worth trying the next mirror for.
    fn is_fallback_worthy(&self) -> bool {
        !matches!(self, RegistryError::Credentials(_))
    }
}

pub struct RegistryClient {
    agent: ureq::Agent,
    pub settings: Settings,
    docker_config: DockerConfig,
    config_path: String,
}

/// A connection to one repository on one endpoint, authenticated for pulling.
pub struct RepoSession<'c> {
    client: &'c RegistryClient,
    pub endpoint: Endpoint,
    base: Mutex<String>,
    repository: String,
    authorization: Mutex<Option<String>>,
    credentials: Option<Credentials>,
}

pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub digest: Digest,
}

impl RegistryClient {
    pub fn new(settings: Settings, docker_config: DockerConfig, config_path: &std::path::Path) -> RegistryClient {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(60))
            .user_agent(concat!("rde/", env!("CARGO_PKG_VERSION")))
            .redirects(5)
            .build();
        RegistryClient { agent, settings, docker_config, config_path: config_path.display().to_string() }
    }

    /// Find the manifest of `reference`, trying Docker Hub mirrors in order and then
    /// the origin; returns the session that answered so that blobs come from it too.
    pub fn open_manifest(&self, reference: &Reference) -> Result<(RepoSession<'_>, FetchedManifest), RegistryError> {
        let endpoints = self.settings.endpoints(&reference.registry);
        let mut mirror_errors = Vec::new();
        let last = endpoints.len();
        for (i, endpoint) in endpoints.into_iter().enumerate() {
            let attempt = self.session(endpoint.clone(), &reference.repository).and_then(|s| {
                let m = s.manifest(&reference.manifest_key())?;
                Ok((s, m))
            });
            match attempt {
                Ok(found) => return Ok(found),
                Err(e) if endpoint.mirror && e.is_fallback_worthy() && i + 1 < last => {
                    mirror_errors.push(format!("{}: {e}", endpoint.base))
                }
                Err(e) => {
                    return Err(if mirror_errors.is_empty() {
                        e
                    } else {
                        with_mirror_note(e, &mirror_errors)
                    });
                }
            }
        }
        Err(RegistryError::Blocked {
            registry: reference.registry.clone(),
            config: self.config_path.clone(),
        })
    }

    /// A session authenticated for `repository` (pull scope) at `endpoint`.
    pub fn session(&self, endpoint: Endpoint, repository: &str) -> Result<RepoSession<'_>, RegistryError> {
        let credentials = self.docker_config.credentials(&endpoint.host)?;
        let session = RepoSession {
            client: self,
            base: Mutex::new(endpoint.base.clone()),
            endpoint,
            repository: repository.to_string(),
            authorization: Mutex::new(None),
            credentials,
        };
        session.ping()?;
        Ok(session)
    }

    /// Check credentials against a registry's /v2/ endpoint, as `docker login` does.
    pub fn verify_login(&self, registry: &str, creds: &Credentials) -> Result<(), RegistryError> {
        let endpoint = self.settings.endpoints(registry).into_iter().rfind(|e| !e.mirror).ok_or_else(|| RegistryError::Blocked {
            registry: registry.to_string(),
            config: self.config_path.clone(),
        })?;
        let session = RepoSession {
            client: self,
            base: Mutex::new(endpoint.base.clone()),
            endpoint,
            repository: String::new(),
            authorization: Mutex::new(None),
            credentials: Some(creds.clone()),
        };
        session.ping()?;
        // A registry that let us in anonymously has nothing to verify against.
        Ok(())
    }
}

fn with_mirror_note(e: RegistryError, mirror_errors: &[String]) -> RegistryError {
    let note = format!(" (mirrors tried first: {})", mirror_errors.join("; "));
    match e {
        RegistryError::Unreachable { registry, reason } => RegistryError::Unreachable { registry, reason: reason + &note },
        RegistryError::NotFound { what, registry, message } => RegistryError::NotFound { what, registry, message: message + &note },
        RegistryError::Denied { repository, registry, message } => {
            RegistryError::Denied { repository, registry, message: message + &note }
        }
        other => other,
    }
}

impl RepoSession<'_> {
    fn registry(&self) -> String {
        self.endpoint.host.clone()
    }

    /// GET /v2/: learn whether and how the registry wants authentication, and
    /// whether to speak HTTPS or (where allowed) HTTP.
    fn ping(&self) -> Result<(), RegistryError> {
        let base = self.base.lock().unwrap().clone();
        let url = format!("{base}/v2/");
        let response = match self.client.agent.get(&url).call() {
            Err(ureq::Error::Transport(t)) if self.endpoint.allow_http && base.starts_with("https://") => {
                let http_base = base.replacen("https://", "http://", 1);
                match self.client.agent.get(&format!("{http_base}/v2/")).call() {
                    Err(ureq::Error::Transport(t2)) => {
                        return Err(RegistryError::Unreachable { registry: self.registry(), reason: format!("{t}; over HTTP: {t2}") });
                    }
                    other => {
                        *self.base.lock().unwrap() = http_base;
                        other
                    }
                }
            }
            other => other,
        };
        match response {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(401, r)) => self.authenticate(&r),
            Err(ureq::Error::Status(status, r)) => Err(self.status_error(status, &url, r, "registry API")),
            Err(ureq::Error::Transport(t)) => Err(self.transport_error(t)),
        }
    }

    fn transport_error(&self, t: ureq::Transport) -> RegistryError {
        let reason = t.to_string();
        let looks_like_tls = reason.contains("tls") || reason.contains("TLS") || reason.contains("InvalidContentType") || reason.contains("certificate");
        if looks_like_tls && !self.endpoint.allow_http {
            RegistryError::HttpsFailed { registry: self.registry(), reason, config: self.client.config_path.clone() }
        } else {
            RegistryError::Unreachable { registry: self.registry(), reason }
        }
    }

    /// Answer a 401 challenge: a Bearer token from the realm, or Basic credentials.
    fn authenticate(&self, response: &ureq::Response) -> Result<(), RegistryError> {
        let header = response.header("www-authenticate").unwrap_or("");
        match Challenge::parse(header) {
            Some(Challenge::Basic) => match &self.credentials {
                Some(c) => {
                    *self.authorization.lock().unwrap() = Some(c.basic_header());
                    self.check_basic()
                }
                None => Err(RegistryError::Denied {
                    repository: self.repository.clone(),
                    registry: self.registry(),
                    message: "the registry requires a login".into(),
                }),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                let token = self.fetch_token(&realm, service.as_deref())?;
                *self.authorization.lock().unwrap() = Some(format!("Bearer {token}"));
                Ok(())
            }
            None => Err(RegistryError::AuthFailed {
                registry: self.registry(),
                message: format!("unsupported authentication challenge {header:?}"),
            }),
        }
    }

    /// Basic credentials are checked by the ping itself; a second 401 means they are wrong.
    fn check_basic(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base.lock().unwrap());
        match self.request(&url).call() {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(401, _)) => {
                Err(RegistryError::AuthFailed { registry: self.registry(), message: "username or password rejected".into() })
            }
            Err(ureq::Error::Status(status, r)) => Err(self.status_error(status, &url, r, "registry API")),
            Err(ureq::Error::Transport(t)) => Err(self.transport_error(t)),
        }
    }

    fn fetch_token(&self, realm: &str, service: Option<&str>) -> Result<String, RegistryError> {
        let mut request = self.client.agent.get(realm);
        if let Some(service) = service {
            request = request.query("service", service);
        }
        if !self.repository.is_empty() {
            request = request.query("scope", &format!("repository:{}:pull", self.repository));
        }
        if let Some(c) = &self.credentials {
            request = request.set("Authorization", &c.basic_header());
        }
        let response = match request.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(401 | 403, r)) => {
                return Err(RegistryError::AuthFailed { registry: self.registry(), message: error_message(r) });
            }
            Err(ureq::Error::Status(status, r)) => return Err(self.status_error(status, realm, r, "token")),
            Err(ureq::Error::Transport(t)) => {
                return Err(RegistryError::Unreachable { registry: self.registry(), reason: format!("token service {realm}: {t}") });
            }
        };
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body: TokenResponse = serde_json::from_reader(response.into_reader().take(MAX_MANIFEST_BYTES)).map_err(|e| {
            RegistryError::AuthFailed { registry: self.registry(), message: format!("bad token response from {realm}: {e}") }
        })?;
        body.token.or(body.access_token).filter(|t| !t.is_empty()).ok_or_else(|| RegistryError::AuthFailed {
            registry: self.registry(),
            message: format!("token response from {realm} holds no token"),
        })
    }

    fn request(&self, url: &str) -> ureq::Request {
        let mut r = self.client.agent.get(url);
        if let Some(a) = self.authorization.lock().unwrap().as_deref() {
            r = r.set("Authorization", a);
        }
        r
    }

    /// GET a repository path, re-authenticating once when the registry asks again
    /// (a token for another scope, or one that expired).
    fn get(&self, path: &str, accept: Option<&str>, what: &str) -> Result<ureq::Response, RegistryError> {
        let url = format!("{}/v2/{}/{path}", self.base.lock().unwrap(), self.repository);
        for attempt in 0..2 {
            let mut request = self.request(&url);
            if let Some(accept) = accept {
                request = request.set("Accept", accept);
            }
            match request.call() {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(401, r)) if attempt == 0 => self.authenticate(&r)?,
                Err(ureq::Error::Status(status, r)) => return Err(self.status_error(status, &url, r, what)),
                Err(ureq::Error::Transport(t)) => return Err(self.transport_error(t)),
            }
        }
        Err(RegistryError::Denied {
            repository: self.repository.clone(),
            registry: self.registry(),
            message: "the registry keeps asking for authentication".into(),
        })
    }

    fn status_error(&self, status: u16, url: &str, response: ureq::Response, what: &str) -> RegistryError {
        let message = error_message(response);
        match status {
            401 | 403 => RegistryError::Denied { repository: self.repository.clone(), registry: self.registry(), message },
            404 => RegistryError::NotFound { what: what.to_string(), registry: self.registry(), message },
            _ => RegistryError::Http { registry: self.registry(), status, url: url.to_string(), message },
        }
    }

    /// Fetch a manifest by tag or digest; the digest is the sha256 of the bytes.
    pub fn manifest(&self, key: &str) -> Result<FetchedManifest, RegistryError> {
        let what = format!("manifest for {}:{key}", self.repository).replace(":sha256:", "@sha256:");
        let response = self.get(&format!("manifests/{key}"), Some(ACCEPT), &what)?;
        let content_type = response.header("content-type").map(str::to_string);
        let bytes = self.read_limited(response, MAX_MANIFEST_BYTES, &what)?;
        Ok(FetchedManifest { digest: Digest::of(&bytes), bytes, content_type })
    }

    /// Fetch a small blob (an image config) whole.
    pub fn blob_bytes(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, RegistryError> {
        let what = format!("blob {digest} of {}", self.repository);
        let response = self.get(&format!("blobs/{digest}"), None, &what)?;
        self.read_limited(response, limit, &what)
    }

    /// Open a blob as a stream (layers); following redirects to blob storage.
    pub fn blob_stream(&self, digest: &Digest) -> Result<Box<dyn Read + Send + Sync>, RegistryError> {
        let what = format!("blob {digest} of {}", self.repository);
        Ok(self.get(&format!("blobs/{digest}"), None, &what)?.into_reader())
    }

    fn read_limited(&self, response: ureq::Response, limit: u64, what: &str) -> Result<Vec<u8>, RegistryError> {
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| RegistryError::Io { registry: self.registry(), source })?;
        if bytes.len() as u64 > limit {
            return Err(RegistryError::TooLarge { what: what.to_string(), registry: self.registry(), limit });
        }
        Ok(bytes)
    }

    pub fn registry_host(&self) -> &str {
        &self.endpoint.host
    }
}

/// The `errors[].message` of a registry error body, or the status text.
fn error_message(response: ureq::Response) -> String {
    let status_text = response.status_text().to_string();
    let mut body = String::new();
    let _ = response.into_reader().take(64 * 1024).read_to_string(&mut body);
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(parsed) = serde_json::from_str::<Errors>(&body) {
        let msgs: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| if e.message.is_empty() { e.code.to_lowercase().replace('_', " ") } else { e.message.clone() })
            .collect();
        if !msgs.is_empty() {
            return msgs.join("; ");
        }
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
        if let Some(d) = v.get("details").or_else(|| v.get("error")).and_then(|d| d.as_str()) {
            return d.to_string();
        }
    }
    let body = body.trim();
    if body.is_empty() || body.len() > 200 || body.starts_with('<') { status_text } else { body.to_string() }
}
