//! The registry v2 protocol client: ping, authentication (anonymous and
//! credentialed Bearer tokens, Basic), manifests and streaming blobs, mirrors with
//! fallback, plain HTTP only where allowed.
//!
//! Credentials go only where the user trusted them: Basic credentials to the
//! registry itself, and to a Bearer token `realm` only over HTTPS or, over plain
//! HTTP, to the registry's own host when the registry itself is plain HTTP
//! (loopback or `insecure-registries`). Any other realm gets an anonymous token
//! request, and a denial then says why no credentials were sent. Redirects
//! (blobs in object storage) never carry the Authorization header.

use super::auth::{AuthFiles, Challenge, Credentials};
use super::digest::Digest;
use super::manifest::{ACCEPT, MAX_MANIFEST_BYTES};
use super::reference::Reference;
use crate::settings::{Endpoint, Settings};
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

/// Token responses are a few kilobytes of JSON.
const MAX_TOKEN_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Client(#[from] super::http::HttpError),
    #[error("registry {registry} is blocked in {config} and has no mirror; hint: remove it from blocked-registries or add a registry mirror")]
    Blocked { registry: String, config: String },
    #[error("registry {registry} is unreachable: {reason}; hint: check the address and your network")]
    Unreachable { registry: String, reason: String },
    #[error(
        "registry {registry}'s certificate is not trusted ({reason}); hint: put its CA in /etc/containers/certs.d/{registry}/ca.crt (or the system's CA store)"
    )]
    UntrustedCertificate { registry: String, reason: String },
    #[error("registry {registry} does not speak HTTPS ({reason}); hint: add it to insecure-registries in {config} to allow plain HTTP")]
    HttpsFailed { registry: String, reason: String, config: String },
    #[error("{what} not found in {registry}: {message}")]
    NotFound { what: String, registry: String, message: String },
    #[error(
        "pull access denied for {repository} on {registry}: the repository does not exist or needs credentials ({message}); hint: check the name, or `rde login {registry}`"
    )]
    Denied { repository: String, registry: String, message: String },
    #[error("push access denied for {repository} on {registry} ({message}); hint: `rde login {registry}`, and check that the account may push to {repository}")]
    PushDenied { repository: String, registry: String, message: String },
    #[error("registry {registry} refused {what}: {message}")]
    Refused { registry: String, what: String, message: String },
    #[error("authentication to {registry} failed: {message}; hint: check your credentials with `rde login {registry}`")]
    AuthFailed { registry: String, message: String },
    #[error(
        "{what} ({message}): rde did not send your credentials to the registry's token service {realm} because {reason}; hint: a registry gets credentials through an https:// token realm, or a plain-HTTP one on its own host when the registry itself is plain HTTP"
    )]
    CredentialsWithheld { what: String, realm: String, reason: &'static str, message: String },
    #[error(
        "registry {registry} names an unusable token realm {realm:?}: {reason}; hint: the registry's auth configuration is wrong, or the registry is not what it claims to be"
    )]
    BadRealm { registry: String, realm: String, reason: &'static str },
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

/// Whether a transport error says the server's certificate chain is not trusted.
fn untrusted_certificate(reason: &str) -> bool {
    reason.contains("UnknownIssuer") || reason.contains("invalid peer certificate")
}

pub struct RegistryClient {
    http: super::http::HttpClients,
    pub settings: Settings,
    auth_files: AuthFiles,
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
    /// Credentials held back from a token realm: (realm, why), for the error
    /// should the registry then deny access.
    withheld: Mutex<Option<(String, &'static str)>>,
    /// Authenticated for pushing too (`repository:NAME:pull,push` tokens).
    push: bool,
    /// Other repositories a push may mount blobs from: pull scope for them too.
    mount_from: Vec<String>,
}

/// A request body that can be sent again after a 401 (a file is reopened).
pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a std::path::Path),
}

pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub digest: Digest,
}

impl RegistryClient {
    /// The HTTP agent for `url`: its registry's CAs and the proxy that applies.
    fn agent(&self, url: &str) -> Result<ureq::Agent, RegistryError> {
        Ok(self.http.agent(url)?)
    }

    pub fn new(settings: Settings, auth_files: impl Into<AuthFiles>, config_path: &std::path::Path) -> RegistryClient {
        // ureq's default, stated: blob redirects go to other hosts (object storage).
        let http = super::http::HttpClients::new(super::http::default_certs_dirs(), Duration::from_secs(60), ureq::RedirectAuthHeaders::Never);
        RegistryClient { http, settings, auth_files: auth_files.into(), config_path: config_path.display().to_string() }
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
                Err(e) if endpoint.mirror && e.is_fallback_worthy() && i + 1 < last => mirror_errors.push(format!("{}: {e}", endpoint.base)),
                Err(e) => {
                    return Err(if mirror_errors.is_empty() { e } else { with_mirror_note(e, &mirror_errors) });
                }
            }
        }
        Err(RegistryError::Blocked { registry: reference.registry.clone(), config: self.config_path.clone() })
    }

    /// A session authenticated for `repository` (pull scope) at `endpoint`.
    pub fn session(&self, endpoint: Endpoint, repository: &str) -> Result<RepoSession<'_>, RegistryError> {
        let credentials = self.auth_files.credentials(&endpoint.host)?;
        let session = self.new_session(endpoint, repository, credentials, false);
        session.ping()?;
        Ok(session)
    }

    fn new_session(&self, endpoint: Endpoint, repository: &str, credentials: Option<Credentials>, push: bool) -> RepoSession<'_> {
        RepoSession {
            client: self,
            base: Mutex::new(endpoint.base.clone()),
            endpoint,
            repository: repository.to_string(),
            authorization: Mutex::new(None),
            credentials,
            withheld: Mutex::new(None),
            push,
            mount_from: Vec::new(),
        }
    }

    /// A session for pushing to `reference`'s repository: its own registry,
    /// never a mirror; `mount_from`: repositories of that registry whose blobs
    /// it may mount.
    pub fn push_session(&self, reference: &Reference, mount_from: Vec<String>) -> Result<RepoSession<'_>, RegistryError> {
        let endpoint = self
            .settings
            .endpoints(&reference.registry)
            .into_iter()
            .find(|e| !e.mirror)
            .ok_or_else(|| RegistryError::Blocked { registry: reference.registry.clone(), config: self.config_path.clone() })?;
        let credentials = self.auth_files.credentials(&endpoint.host)?;
        let mut session = self.new_session(endpoint, &reference.repository, credentials, true);
        session.mount_from = mount_from;
        session.ping()?;
        Ok(session)
    }

    /// Check credentials against a registry's /v2/ endpoint, as `docker login` does.
    pub fn verify_login(&self, registry: &str, creds: &Credentials) -> Result<(), RegistryError> {
        let endpoint = self
            .settings
            .endpoints(registry)
            .into_iter()
            .rfind(|e| !e.mirror)
            .ok_or_else(|| RegistryError::Blocked { registry: registry.to_string(), config: self.config_path.clone() })?;
        let session = self.new_session(endpoint, "", Some(creds.clone()), false);
        session.ping()?;
        if let Some((realm, reason)) = session.withheld.lock().unwrap().clone() {
            return Err(RegistryError::CredentialsWithheld {
                what: format!("cannot verify the login to {registry}"),
                realm,
                reason,
                message: "its token service was asked anonymously".into(),
            });
        }
        // A registry that let us in anonymously has nothing to verify against.
        Ok(())
    }
}

fn with_mirror_note(e: RegistryError, mirror_errors: &[String]) -> RegistryError {
    let note = format!(" (mirrors tried first: {})", mirror_errors.join("; "));
    match e {
        RegistryError::Unreachable { registry, reason } => RegistryError::Unreachable { registry, reason: reason + &note },
        RegistryError::NotFound { what, registry, message } => RegistryError::NotFound { what, registry, message: message + &note },
        RegistryError::Denied { repository, registry, message } => RegistryError::Denied { repository, registry, message: message + &note },
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
        let response = match self.client.agent(&url)?.get(&url).call() {
            Err(ureq::Error::Transport(t)) if self.endpoint.allow_http && base.starts_with("https://") => {
                let http_base = base.replacen("https://", "http://", 1);
                match self.client.agent(&http_base)?.get(&format!("{http_base}/v2/")).call() {
                    Err(ureq::Error::Transport(t2)) => {
                        return Err(RegistryError::Unreachable { registry: self.registry(), reason: format!("{t}; over HTTP: {t2}") });
                    }
                    // It does speak HTTPS (plain HTTP gets "400: an HTTP request to an HTTPS server"): the certificate is the problem.
                    Err(ureq::Error::Status(400, _)) if untrusted_certificate(&t.to_string()) => {
                        return Err(RegistryError::UntrustedCertificate { registry: self.registry(), reason: t.to_string() });
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
        if untrusted_certificate(&reason) {
            RegistryError::UntrustedCertificate { registry: self.registry(), reason }
        } else if looks_like_tls && !self.endpoint.allow_http {
            RegistryError::HttpsFailed { registry: self.registry(), reason, config: self.client.config_path.clone() }
        } else {
            RegistryError::Unreachable { registry: self.registry(), reason }
        }
    }

    /// Answer a 401 challenge: a Bearer token from the realm, or Basic credentials.
    fn authenticate(&self, response: &ureq::Response) -> Result<(), RegistryError> {
        let headers = response.all("www-authenticate");
        match Challenge::pick(headers.iter().copied()) {
            Some(Challenge::Basic) => match &self.credentials {
                Some(c) => {
                    *self.authorization.lock().unwrap() = Some(c.basic_header());
                    self.check_basic()
                }
                None if self.push => Err(RegistryError::PushDenied {
                    repository: self.repository.clone(),
                    registry: self.registry(),
                    message: "the registry requires a login".into(),
                }),
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
            None => {
                Err(RegistryError::AuthFailed { registry: self.registry(), message: format!("unsupported authentication challenge {:?}", headers.join(", ")) })
            }
        }
    }

    /// Basic credentials are checked by the ping itself; a second 401 means they are wrong.
    fn check_basic(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base.lock().unwrap());
        match self.request(&url)?.call() {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(401, _)) => Err(RegistryError::AuthFailed { registry: self.registry(), message: "username or password rejected".into() }),
            Err(ureq::Error::Status(status, r)) => Err(self.status_error(status, &url, r, "registry API")),
            Err(ureq::Error::Transport(t)) => Err(self.transport_error(t)),
        }
    }

    fn fetch_token(&self, realm: &str, service: Option<&str>) -> Result<String, RegistryError> {
        let bad_realm = |reason| RegistryError::BadRealm { registry: self.registry(), realm: realm.to_string(), reason };
        let parsed = Realm::parse(realm).map_err(bad_realm)?;
        let send_credentials = match (&self.credentials, parsed.may_receive_credentials(&self.base.lock().unwrap())) {
            (Some(_), Err(reason)) => {
                *self.withheld.lock().unwrap() = Some((realm.to_string(), reason));
                false
            }
            (Some(_), Ok(())) => true,
            (None, _) => false,
        };
        let credentials = self.credentials.as_ref().filter(|_| send_credentials);
        let actions = if self.push { "pull,push" } else { "pull" };
        let mut scopes: Vec<String> = Vec::new();
        if !self.repository.is_empty() {
            scopes.push(format!("repository:{}:{actions}", self.repository));
            scopes.extend(self.mount_from.iter().map(|r| format!("repository:{r}:pull")));
        }
        let joined = scopes.join(" ");
        let scope = (!scopes.is_empty()).then_some(joined.as_str());
        let result = match credentials.and_then(|c| c.identity_token.as_deref()) {
            // OAuth2 refresh-token grant (distribution's token spec, "oauth"): what an
            // identity token is for; the registry answers with an access_token.
            Some(refresh_token) => {
                let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", "rde")];
                if let Some(service) = service {
                    form.push(("service", service));
                }
                if let Some(scope) = scope {
                    form.push(("scope", scope));
                }
                self.client.agent(realm)?.post(realm).send_form(&form)
            }
            None => {
                let mut request = self.client.agent(realm)?.get(realm);
                if let Some(service) = service {
                    request = request.query("service", service);
                }
                for scope in &scopes {
                    request = request.query("scope", scope);
                }
                if let Some(c) = credentials {
                    request = request.set("Authorization", &c.basic_header());
                }
                request.call()
            }
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(401 | 403, r)) => {
                let message = error_message(r);
                return Err(self.withheld_error(message.clone()).unwrap_or(RegistryError::AuthFailed { registry: self.registry(), message }));
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
        let body: TokenResponse = serde_json::from_reader(response.into_reader().take(MAX_TOKEN_BYTES))
            .map_err(|e| RegistryError::AuthFailed { registry: self.registry(), message: format!("bad token response from {realm}: {e}") })?;
        body.token
            .or(body.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::AuthFailed { registry: self.registry(), message: format!("token response from {realm} holds no token") })
    }

    fn request(&self, url: &str) -> Result<ureq::Request, RegistryError> {
        let mut r = self.client.agent(url)?.get(url);
        if let Some(a) = self.authorization.lock().unwrap().as_deref() {
            r = r.set("Authorization", a);
        }
        Ok(r)
    }

    /// GET a repository path, re-authenticating once when the registry asks again
    /// (a token for another scope, or one that expired).
    fn get(&self, path: &str, accept: Option<&str>, what: &str) -> Result<ureq::Response, RegistryError> {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        self.send("GET", &format!("/v2/{}/{path}", self.repository), &headers, &Body::Empty, what)
    }

    /// Access denied after credentials were held back from the token realm: say so.
    fn withheld_error(&self, message: String) -> Option<RegistryError> {
        let (realm, reason) = self.withheld.lock().unwrap().clone()?;
        Some(RegistryError::CredentialsWithheld { what: format!("pull access denied for {} on {}", self.repository, self.registry()), realm, reason, message })
    }

    fn status_error(&self, status: u16, url: &str, response: ureq::Response, what: &str) -> RegistryError {
        let message = error_message(response);
        match status {
            401 | 403 if self.push => self.withheld_error(message.clone()).unwrap_or(RegistryError::PushDenied {
                repository: self.repository.clone(),
                registry: self.registry(),
                message,
            }),
            401 | 403 => self.withheld_error(message.clone()).unwrap_or(RegistryError::Denied {
                repository: self.repository.clone(),
                registry: self.registry(),
                message,
            }),
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
        response.into_reader().take(limit + 1).read_to_end(&mut bytes).map_err(|source| RegistryError::Io { registry: self.registry(), source })?;
        if bytes.len() as u64 > limit {
            return Err(RegistryError::TooLarge { what: what.to_string(), registry: self.registry(), limit });
        }
        Ok(bytes)
    }

    pub fn registry_host(&self) -> &str {
        &self.endpoint.host
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// Send `method` to `url` (absolute, or a path under the registry), with
    /// the session's authorization, authenticating again once on a 401.
    fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &Body<'_>, what: &str) -> Result<ureq::Response, RegistryError> {
        let base = self.base.lock().unwrap().clone();
        let url = if url.starts_with("http://") || url.starts_with("https://") { url.to_string() } else { format!("{base}{url}") };
        // Credentials go only where they were asked for: an upload Location on
        // another host or scheme gets none.
        let same_origin = url.strip_prefix(base.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        for attempt in 0..2 {
            let mut request = self.client.agent(&url)?.request(method, &url);
            if same_origin && let Some(a) = self.authorization.lock().unwrap().as_deref() {
                request = request.set("Authorization", a);
            }
            for (k, v) in headers {
                request = request.set(k, v);
            }
            let result = match body {
                // POST/PUT without a body still say so (some registries answer 411 otherwise).
                Body::Empty if method == "POST" || method == "PUT" => request.send_bytes(&[]),
                Body::Empty => request.call(),
                Body::Bytes(b) => request.send_bytes(b),
                Body::File(path) => {
                    let file = std::fs::File::open(path).map_err(|source| RegistryError::Io { registry: self.registry(), source })?;
                    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                    request.set("Content-Length", &len.to_string()).send(std::io::BufReader::with_capacity(1 << 20, file))
                }
            };
            match result {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(401, r)) if attempt == 0 => self.authenticate(&r)?,
                Err(ureq::Error::Status(status, r)) => return Err(self.status_error(status, &url, r, what)),
                Err(ureq::Error::Transport(t)) => return Err(self.transport_error(t)),
            }
        }
        let (repository, registry, message) = (self.repository.clone(), self.registry(), "the registry keeps asking for authentication".to_string());
        Err(if self.push { RegistryError::PushDenied { repository, registry, message } } else { RegistryError::Denied { repository, registry, message } })
    }

    /// Whether the repository has blob `digest` (HEAD).
    pub fn has_blob(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let what = format!("blob {digest} of {}", self.repository);
        match self.send("HEAD", &format!("/v2/{}/blobs/{digest}", self.repository), &[], &Body::Empty, &what) {
            Ok(_) => Ok(true),
            Err(RegistryError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Mount blob `digest` from another repository of the same registry;
    /// false when the registry would rather have it uploaded.
    pub fn mount_blob(&self, digest: &Digest, from: &str) -> Result<bool, RegistryError> {
        let what = format!("mounting blob {digest} from {from}");
        let path = format!("/v2/{}/blobs/uploads/?mount={digest}&from={from}", self.repository);
        match self.send("POST", &path, &[], &Body::Empty, &what) {
            Ok(r) => Ok(r.status() == 201),
            Err(RegistryError::NotFound { .. } | RegistryError::PushDenied { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Upload blob `digest` (POST, then one PUT with the whole body); the
    /// registry checks the digest.
    pub fn upload_blob(&self, digest: &Digest, body: &Body<'_>) -> Result<(), RegistryError> {
        let what = format!("an upload to {}", self.repository);
        let started = self.send("POST", &format!("/v2/{}/blobs/uploads/", self.repository), &[], &Body::Empty, &what)?;
        let location = started.header("location").ok_or_else(|| RegistryError::Refused {
            registry: self.registry(),
            what: what.clone(),
            message: "no Location for the upload".into(),
        })?;
        let location = if location.starts_with('/') { format!("{}{location}", self.base.lock().unwrap()) } else { location.to_string() };
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest={digest}");
        self.send("PUT", &url, &[("Content-Type", "application/octet-stream")], body, &format!("blob {digest}"))?;
        Ok(())
    }

    /// PUT a manifest under `tag`; the digest the registry gives it (checked
    /// against the bytes' own).
    pub fn put_manifest(&self, tag: &str, media_type: &str, bytes: &[u8]) -> Result<Digest, RegistryError> {
        let what = format!("manifest {}:{tag}", self.repository);
        let response = self.send("PUT", &format!("/v2/{}/manifests/{tag}", self.repository), &[("Content-Type", media_type)], &Body::Bytes(bytes), &what)?;
        let digest = Digest::of(bytes);
        match response.header("docker-content-digest").map(str::parse::<Digest>) {
            Some(Ok(d)) if d != digest => {
                Err(RegistryError::Refused { registry: self.registry(), what, message: format!("it stored the manifest as {d}, not {digest}") })
            }
            _ => Ok(digest),
        }
    }
}

/// A Bearer challenge's token realm, as far as deciding what may be sent to it.
#[derive(Debug, PartialEq, Eq)]
struct Realm {
    https: bool,
    /// Lowercase, without port (IPv6 literals keep their brackets).
    host: String,
}

impl Realm {
    /// Only http(s) URLs with a host, no user info, not a link-local or
    /// unspecified address (cloud metadata services live there, token services do not).
    fn parse(realm: &str) -> Result<Realm, &'static str> {
        let (scheme, rest) = realm.split_once("://").ok_or("not an http(s) URL")?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err("not an http(s) URL"),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return Err("it carries user info");
        }
        let host = host_of(authority);
        if host.is_empty() {
            return Err("it names no host");
        }
        let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok();
        let unusable = match ip {
            Some(std::net::IpAddr::V4(v4)) => v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast(),
            Some(std::net::IpAddr::V6(v6)) => v6.is_unicast_link_local() || v6.is_unspecified(),
            None => false,
        };
        if unusable {
            return Err("it is a link-local or unspecified address");
        }
        Ok(Realm { https, host })
    }

    /// Whether Basic credentials for the registry at `registry_base`
    /// (`scheme://host[:port]`) may go with a token request to this realm: over
    /// HTTPS to any host (Docker Hub's realm is auth.docker.io, GitLab's the GitLab
    /// host), over plain HTTP only to the registry's own host and only when the
    /// registry is plain HTTP too. `Err` says why not.
    fn may_receive_credentials(&self, registry_base: &str) -> Result<(), &'static str> {
        if self.https {
            return Ok(());
        }
        let Some(authority) = registry_base.strip_prefix("http://") else {
            return Err("it is plain HTTP while the registry speaks HTTPS");
        };
        if host_of(authority) != self.host {
            return Err("it is plain HTTP on another host than the registry");
        }
        Ok(())
    }
}

/// `Host:port` -> `host`; `[::1]:5000` -> `[::1]`.
fn host_of(authority: &str) -> String {
    let host = match authority.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or("")),
        None => authority.split(':').next().unwrap_or("").to_string(),
    };
    host.to_ascii_lowercase()
}

/// The `errors[].message` of a registry error body, or the status text.
fn error_message(response: ureq::Response) -> String {
    let status_text = response.status_text().to_string();
    let mut body = String::new();
    let _ = response.into_reader().take(64 * 1024).read_to_string(&mut body);
    // The distribution spec's error body, as oci-spec types it.
    if let Ok(parsed) = serde_json::from_str::<oci_spec::distribution::ErrorResponse>(&body) {
        let msgs: Vec<String> = parsed
            .detail()
            .iter()
            .map(|e| match e.message().as_deref().filter(|m| !m.is_empty()) {
                Some(m) => m.to_string(),
                None => format!("{:?}", e.code())
                    .chars()
                    .flat_map(|c| if c.is_uppercase() { vec![' ', c.to_ascii_lowercase()] } else { vec![c] })
                    .collect::<String>()
                    .trim()
                    .to_string(),
            })
            .collect();
        if !msgs.is_empty() {
            return msgs.join("; ");
        }
    }
    // Codes outside the spec's list (registries add their own): read leniently.
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
        let msgs: Vec<String> =
            parsed.errors.iter().map(|e| if e.message.is_empty() { e.code.to_lowercase().replace('_', " ") } else { e.message.clone() }).collect();
        if !msgs.is_empty() {
            return msgs.join("; ");
        }
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body)
        && let Some(d) = v.get("details").or_else(|| v.get("error")).and_then(|d| d.as_str())
    {
        return d.to_string();
    }
    let body = body.trim();
    if body.is_empty() || body.len() > 200 || body.starts_with('<') { status_text } else { body.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::auth::DockerConfig;
    use std::io::{BufRead, BufReader, Write};
    use std::sync::Arc;

    #[test]
    fn realms_get_credentials_over_https_or_from_the_registry_itself() {
        let realm = |r: &str| Realm::parse(r);
        assert_eq!(realm("https://auth.docker.io/token"), Ok(Realm { https: true, host: "auth.docker.io".into() }));
        assert_eq!(realm("HTTP://Reg.Example:5001/token?x=1").unwrap().host, "reg.example");
        assert_eq!(realm("http://[::1]:5001/token").unwrap().host, "[::1]");
        for bad in [
            "file:///etc/passwd",
            "ftp://x/",
            "auth.docker.io/token",
            "http:///token",
            "https://user:pw@evil/token",
            "http://169.254.169.254/latest",
            "http://0.0.0.0/",
            "http://[fe80::1]/t",
        ] {
            assert!(realm(bad).is_err(), "{bad}");
        }
        let may = |r: &str, base: &str| realm(r).unwrap().may_receive_credentials(base);
        // HTTPS realms may be elsewhere (Docker Hub, GitLab).
        assert_eq!(may("https://auth.docker.io/token", "https://registry-1.docker.io"), Ok(()));
        assert_eq!(may("https://auth.example/token", "http://127.0.0.1:5000"), Ok(()));
        // Plain HTTP only to the plain-HTTP registry's own host (any port).
        assert_eq!(may("http://127.0.0.1:5001/token", "http://127.0.0.1:5000"), Ok(()));
        assert_eq!(may("http://[::1]:5001/token", "http://[::1]:5000"), Ok(()));
        assert!(may("http://localhost:5001/token", "http://127.0.0.1:5000").is_err());
        assert!(may("http://evil.example/token", "http://127.0.0.1:5000").is_err());
        assert!(may("http://registry.example/token", "https://registry.example").is_err(), "no downgrade");
    }

    type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

    /// A loopback HTTP server: answers each request with `respond(path, authorization)`
    /// (a whole HTTP response) and records what it was asked.
    fn serve(respond: impl Fn(&str, Option<&str>) -> String + Send + Sync + 'static) -> (u16, Seen) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let respond = Arc::new(respond);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (record, respond) = (record.clone(), respond.clone());
                std::thread::spawn(move || answer(stream, &record, &*respond));
            }
        });
        (port, seen)
    }

    fn answer(stream: std::net::TcpStream, record: &Seen, respond: &dyn Fn(&str, Option<&str>) -> String) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        // A TLS ClientHello (rde tries HTTPS first): refuse it as a plain server does.
        if reader.fill_buf().is_ok_and(|b| b.first() == Some(&0x16)) {
            let _ = (&stream).write_all(reply("400 Bad Request", "", "plain HTTP here").as_bytes());
            return;
        }
        let mut request = String::new();
        if reader.read_line(&mut request).is_err() {
            return;
        }
        let mut path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut authorization = None;
        let mut content_length = 0;
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("authorization") {
                    authorization = Some(value.trim().to_string());
                } else if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
            line.clear();
        }
        // A request with a body (a POSTed form) is seen as `POST path body`.
        if content_length > 0 {
            let mut body = vec![0; content_length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            path = format!("POST {path} {}", String::from_utf8_lossy(&body));
        }
        record.lock().unwrap().push((path.clone(), authorization.clone()));
        let _ = (&stream).write_all(respond(&path, authorization.as_deref()).as_bytes());
    }

    fn reply(status: &str, headers: &str, body: &str) -> String {
        format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
    }

    /// A client whose config.json holds credentials for `registry`.
    fn client_with_credentials(dir: &std::path::Path, registry: &str) -> RegistryClient {
        let path = dir.join("config.json");
        std::fs::write(&path, format!(r#"{{"auths":{{"{registry}":{{"username":"user","password":"secret"}}}}}}"#)).unwrap();
        RegistryClient::new(Settings::default(), DockerConfig::load_from(&path).unwrap(), &path)
    }

    /// A client whose config.json holds `entry` (a JSON object) for `registry`.
    fn client_with_entry(dir: &std::path::Path, registry: &str, entry: &str) -> RegistryClient {
        let path = dir.join("config.json");
        std::fs::write(&path, format!(r#"{{"auths":{{"{registry}":{entry}}}}}"#)).unwrap();
        RegistryClient::new(Settings::default(), DockerConfig::load_from(&path).unwrap(), &path)
    }

    fn endpoint(port: u16) -> Endpoint {
        Endpoint { base: format!("http://127.0.0.1:{port}"), host: format!("127.0.0.1:{port}"), mirror: false, allow_http: true }
    }

    /// A token service, and a registry that sends clients there and lets in only
    /// holders of the token it hands to callers with credentials.
    fn token_registry(realm_host: &'static str) -> (u16, Seen) {
        let (token_port, token_seen) = serve(|_, auth| {
            let token = if auth.is_some_and(|a| a.starts_with("Basic ")) { "with-credentials" } else { "anonymous" };
            reply("200 OK", "Content-Type: application/json\r\n", &format!(r#"{{"token":"{token}"}}"#))
        });
        let (port, _) = serve(move |path, auth| match auth {
            Some("Bearer with-credentials") => reply("200 OK", "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n", "{}"),
            Some("Bearer anonymous") if path == "/v2/" => reply("200 OK", "", ""),
            _ => reply(
                "401 Unauthorized",
                &format!("WWW-Authenticate: Bearer realm=\"http://{realm_host}:{token_port}/token\",service=\"test\"\r\n"),
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            ),
        });
        (port, token_seen)
    }

    #[test]
    fn credentials_are_withheld_from_a_plain_http_realm_on_another_host() {
        let dir = tempfile::tempdir().unwrap();
        // `localhost` is another host name than the registry's 127.0.0.1.
        let (port, token_seen) = token_registry("localhost");
        let client = client_with_credentials(dir.path(), &format!("127.0.0.1:{port}"));
        let session = client.session(endpoint(port), "private/app").unwrap();
        let err = session.manifest("latest").err().expect("access is denied");
        let text = err.to_string();
        assert!(matches!(err, RegistryError::CredentialsWithheld { .. }), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")) && text.contains("private/app") && text.contains("http://localhost:"), "{text}");
        assert!(text.contains("plain HTTP on another host") && text.contains("; hint: "), "{text}");
        // `rde login` cannot verify credentials it will not send.
        let creds = Credentials::basic("user", "secret");
        let err = client.verify_login(&format!("127.0.0.1:{port}"), &creds).unwrap_err();
        assert!(matches!(err, RegistryError::CredentialsWithheld { .. }), "{err}");
        let seen = token_seen.lock().unwrap();
        assert!(seen.len() >= 2 && seen.iter().all(|(_, auth)| auth.is_none()), "the realm saw credentials: {seen:?}");
    }

    #[test]
    fn credentials_go_to_a_plain_http_realm_on_the_registry_host() {
        let dir = tempfile::tempdir().unwrap();
        let (port, token_seen) = token_registry("127.0.0.1");
        let client = client_with_credentials(dir.path(), &format!("127.0.0.1:{port}"));
        let session = client.session(endpoint(port), "private/app").unwrap();
        session.manifest("latest").unwrap();
        assert!(token_seen.lock().unwrap().iter().any(|(_, auth)| auth.as_deref().is_some_and(|a| a.starts_with("Basic "))));
    }

    #[test]
    fn identity_tokens_are_exchanged_with_a_refresh_token_grant() {
        let dir = tempfile::tempdir().unwrap();
        let (token_port, token_seen) = serve(|path, _| {
            let token = if path.starts_with("POST /token ") && path.contains("grant_type=refresh_token") && path.contains("refresh_token=rt-123") {
                "with-credentials"
            } else {
                "anonymous"
            };
            reply("200 OK", "Content-Type: application/json\r\n", &format!(r#"{{"access_token":"{token}","expires_in":300}}"#))
        });
        let (port, _) = serve(move |_, auth| match auth {
            Some("Bearer with-credentials") => reply("200 OK", "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n", "{}"),
            _ => reply("401 Unauthorized", &format!("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{token_port}/token\",service=\"test\"\r\n"), ""),
        });
        let entry = r#"{"auth":"MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==","identitytoken":"rt-123"}"#;
        let client = client_with_entry(dir.path(), &format!("127.0.0.1:{port}"), entry);
        let session = client.session(endpoint(port), "private/app").unwrap();
        session.manifest("latest").unwrap();
        let seen = token_seen.lock().unwrap();
        assert!(seen.iter().all(|(path, auth)| path.starts_with("POST /token ") && auth.is_none()), "{seen:?}");
        assert!(seen.iter().any(|(path, _)| path.contains("scope=repository%3Aprivate%2Fapp%3Apull") && path.contains("service=test")), "{seen:?}");
    }

    #[test]
    fn blob_redirects_never_carry_authorization() {
        let dir = tempfile::tempdir().unwrap();
        let (storage_port, storage_seen) = serve(|_, _| reply("200 OK", "", "blob bytes"));
        for storage_host in ["localhost", "127.0.0.1"] {
            let (port, _) = serve(move |path, auth| match auth {
                Some(a) if a.starts_with("Basic ") && path.contains("/blobs/") => {
                    reply("307 Temporary Redirect", &format!("Location: http://{storage_host}:{storage_port}/storage/blob\r\n"), "")
                }
                Some(a) if a.starts_with("Basic ") => reply("200 OK", "", ""),
                _ => reply("401 Unauthorized", "WWW-Authenticate: Basic realm=\"test\"\r\n", ""),
            });
            let client = client_with_credentials(dir.path(), &format!("127.0.0.1:{port}"));
            let session = client.session(endpoint(port), "library/app").unwrap();
            let mut body = String::new();
            session.blob_stream(&Digest::of(b"x")).unwrap().read_to_string(&mut body).unwrap();
            assert_eq!(body, "blob bytes");
        }
        let seen = storage_seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().all(|(path, auth)| path == "/storage/blob" && auth.is_none()), "{seen:?}");
    }

    #[test]
    fn unusable_realms_are_refused_before_any_request() {
        let dir = tempfile::tempdir().unwrap();
        let (port, _) = serve(|_, _| reply("401 Unauthorized", "WWW-Authenticate: Bearer realm=\"file:///etc/passwd\"\r\n", ""));
        let client = client_with_credentials(dir.path(), &format!("127.0.0.1:{port}"));
        let err = client.session(endpoint(port), "library/app").err().unwrap();
        assert!(matches!(err, RegistryError::BadRealm { .. }) && err.to_string().contains("file:///etc/passwd"), "{err}");
    }
}
