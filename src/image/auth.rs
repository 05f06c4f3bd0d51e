//! Registry credentials (docker's config.json, podman's auth.json, credential
//! helpers, OAuth2 identity tokens) and the `WWW-Authenticate` challenges
//! registries answer with.
//!
//! `docker_credential` was considered for reading config.json: it reads only the
//! default file (no `REGISTRY_AUTH_FILE`/auth.json chain), cannot store or erase
//! (`rde login`/`logout` need both) and drops the username that goes with an
//! identity token, so rde keeps this small reader.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Docker Hub's credentials live under this historical key in config.json.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// What a registry login left behind: a username and password, and, after an
/// OAuth2 login (Azure ACR, `docker login` against an identity provider), an
/// identity token, which is a refresh token for the registry's token service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// config.json's `identitytoken`, or a helper's `Secret` when its `Username`
    /// is `<token>`; sent as `grant_type=refresh_token` to a Bearer realm.
    pub identity_token: Option<String>,
}

/// The username credential helpers answer with when `Secret` is an identity token.
const IDENTITY_TOKEN_USERNAME: &str = "<token>";

impl Credentials {
    /// Username and password, no identity token.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials { username: username.into(), password: password.into(), identity_token: None }
    }

    pub fn basic_header(&self) -> String {
        format!("Basic {}", BASE64.encode(format!("{}:{}", self.username, self.password)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid JSON: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("credential helper docker-credential-{helper} failed: {message}; hint: check that the helper is installed and on PATH")]
    Helper { helper: String, message: String },
    #[error("the `auth` entry for {registry} in {path} is not base64 of user:password")]
    BadAuthEntry { registry: String, path: PathBuf },
}

/// One challenge of a `WWW-Authenticate` header, as RFC 7235 section 4.1 has it:
/// a scheme (lowercased; schemes are case-insensitive) and either a token68 or
/// `name=value` parameters (names lowercased, values unquoted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthChallenge {
    pub scheme: String,
    pub token68: Option<String>,
    pub params: Vec<(String, String)>,
}

impl AuthChallenge {
    /// A parameter's value, by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every challenge in some `WWW-Authenticate` header values (a response may
    /// carry several headers, each a comma-separated list of challenges).
    /// Malformed parts are skipped, as the RFC allows a client to.
    pub fn parse_all<'a>(headers: impl IntoIterator<Item = &'a str>) -> Vec<AuthChallenge> {
        headers.into_iter().flat_map(|h| ChallengeParser { s: h.as_bytes(), i: 0 }.challenges()).collect()
    }
}

/// The RFC 7235 grammar, bytewise:
/// `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`,
/// `auth-param = token BWS "=" BWS ( token / quoted-string )`,
/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
struct ChallengeParser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
}

impl ChallengeParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    /// An unquoted parameter value: a token, leniently up to the next comma or
    /// space, as registries send `realm=http://host/token` unquoted.
    fn bare_value(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(|c| !matches!(c, b',' | b' ' | b'\t')) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    /// After the opening quote: up to the closing one, `\x` standing for `x`.
    fn quoted(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                }
                c => out.push(c),
            }
            self.i += 1;
        }
    }

    /// Skip to the next comma (error recovery).
    fn skip_element(&mut self) {
        let mut quoted = false;
        while let Some(c) = self.peek() {
            match c {
                b'"' => quoted = !quoted,
                b'\\' if quoted => self.i += 1,
                b',' if !quoted => return,
                _ => {}
            }
            self.i += 1;
        }
    }

    /// Whether an `auth-param` (`token BWS "=" BWS (token / quoted-string)`)
    /// starts here, rather than the next challenge's scheme or a token68.
    fn at_param(&self) -> bool {
        let mut j = self.i;
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        if j == self.i {
            return false;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if self.s.get(j) != Some(&b'=') {
            return false;
        }
        j += 1;
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        self.s.get(j).is_some_and(|&c| c == b'"' || is_tchar(c))
    }

    fn challenges(mut self) -> Vec<AuthChallenge> {
        let mut out: Vec<AuthChallenge> = Vec::new();
        loop {
            while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
                self.i += 1;
            }
            let Some(c) = self.peek() else { return out };
            // A parameter after a comma belongs to the challenge before it.
            if let Some(last) = out.last_mut().filter(|l| l.token68.is_none() && self.at_param()) {
                let name = self.token().to_ascii_lowercase();
                self.skip_ows();
                self.i += 1; // '='
                self.skip_ows();
                let value = if self.peek() == Some(b'"') {
                    self.i += 1;
                    self.quoted()
                } else {
                    Some(self.bare_value())
                };
                match value {
                    Some(v) => last.params.push((name, v)),
                    None => return out, // an unterminated quoted string ends the header
                }
                continue;
            }
            if !is_tchar(c) {
                self.skip_element();
                continue;
            }
            let scheme = self.token().to_ascii_lowercase();
            let mut challenge = AuthChallenge { scheme, ..AuthChallenge::default() };
            let spaced = matches!(self.peek(), Some(b' ' | b'\t'));
            self.skip_ows();
            if spaced && !self.at_param() && self.peek().is_some_and(is_token68_char) {
                let start = self.i;
                while self.peek().is_some_and(is_token68_char) {
                    self.i += 1;
                }
                while self.peek() == Some(b'=') {
                    self.i += 1;
                }
                challenge.token68 = Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned());
            } else if !spaced && !matches!(self.peek(), None | Some(b',')) {
                // `Bearer"x"` and the like: not a challenge.
                self.skip_element();
                continue;
            }
            out.push(challenge);
        }
    }
}

/// The challenge rde answers, picked from all those a registry offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

impl Challenge {
    /// Pick from all challenges in the `WWW-Authenticate` headers: a Bearer one
    /// with a realm first (tokens keep passwords off every request), else Basic.
    /// `None` when neither is offered.
    pub fn pick<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
        let all = AuthChallenge::parse_all(headers);
        let bearer = all.iter().filter(|c| c.scheme == "bearer").find_map(|c| {
            Some(Challenge::Bearer {
                realm: c.param("realm")?.to_string(),
                service: c.param("service").map(String::from),
                scope: c.param("scope").map(String::from),
            })
        });
        bearer.or_else(|| all.iter().any(|c| c.scheme == "basic").then_some(Challenge::Basic))
    }

    /// [`Challenge::pick`] from one header value, e.g.
    /// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/postgres:pull"`.
    pub fn parse(header: &str) -> Option<Challenge> {
        Challenge::pick([header])
    }
}

/// docker's client configuration: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub struct DockerConfig {
    path: PathBuf,
    json: Map<String, Value>,
}

impl DockerConfig {
    pub fn default_path() -> PathBuf {
        match std::env::var_os("DOCKER_CONFIG") {
            Some(dir) => PathBuf::from(dir).join("config.json"),
            None => home_dir().join(".docker/config.json"),
        }
    }

    pub fn load() -> Result<DockerConfig, AuthError> {
        DockerConfig::load_from(&DockerConfig::default_path())
    }

    pub fn load_from(path: &Path) -> Result<DockerConfig, AuthError> {
        let json = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| AuthError::Parse { path: path.into(), source })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(source) => return Err(AuthError::Read { path: path.into(), source }),
        };
        Ok(DockerConfig { path: path.to_path_buf(), json })
    }

    /// The helper that owns `registry`'s credentials, if any.
    fn helper_for(&self, registry: &str) -> Option<String> {
        let by_host = self
            .json
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|helpers| helpers.iter().find(|(k, _)| normalize_key(k) == registry).and_then(|(_, v)| v.as_str()));
        by_host.or_else(|| self.json.get("credsStore").and_then(Value::as_str)).filter(|h| !h.is_empty()).map(String::from)
    }

    /// Credentials for a registry host (`docker.io`, `127.0.0.1:5000`).
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>, AuthError> {
        if let Some(helper) = self.helper_for(registry) {
            return helper_get(&helper, &server_key(registry));
        }
        let Some(auths) = self.json.get("auths").and_then(Value::as_object) else { return Ok(None) };
        let Some((key, entry)) = auths.iter().find(|(k, _)| normalize_key(k) == registry) else { return Ok(None) };
        let bad = || AuthError::BadAuthEntry { registry: key.clone(), path: self.path.clone() };
        let identity_token = entry.get("identitytoken").and_then(Value::as_str).filter(|t| !t.is_empty()).map(String::from);
        let mut creds = if let Some(auth) = entry.get("auth").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            let decoded = BASE64.decode(auth.trim()).map_err(|_| bad())?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
            let (username, password) = decoded.split_once(':').ok_or_else(bad)?;
            Credentials::basic(username, password)
        } else {
            match (entry.get("username").and_then(Value::as_str), entry.get("password").and_then(Value::as_str)) {
                (Some(u), Some(p)) => Credentials::basic(u, p),
                _ if identity_token.is_some() => Credentials::basic("", ""),
                _ => return Ok(None),
            }
        };
        creds.identity_token = identity_token;
        Ok(Some(creds))
    }

    /// Whether this file has anything for `registry` (an `auths` entry or a helper).
    fn has_entry_for(&self, registry: &str) -> bool {
        self.helper_for(registry).is_some() || self.json.get("auths").and_then(Value::as_object).is_some_and(|a| a.keys().any(|k| normalize_key(k) == registry))
    }

    /// Store credentials as `docker login` does: in the helper when one is set, else base64 in `auths`.
    pub fn store(&mut self, registry: &str, creds: &Credentials) -> Result<(), AuthError> {
        if let Some(helper) = self.helper_for(registry) {
            let input = match &creds.identity_token {
                Some(token) => serde_json::json!({"ServerURL": server_key(registry), "Username": IDENTITY_TOKEN_USERNAME, "Secret": token}),
                None => serde_json::json!({"ServerURL": server_key(registry), "Username": creds.username, "Secret": creds.password}),
            };
            return helper_run(&helper, "store", &input.to_string()).map(drop);
        }
        let auths = self.json.entry("auths").or_insert_with(|| Value::Object(Map::new()));
        if let Some(auths) = auths.as_object_mut() {
            auths.retain(|k, _| normalize_key(k) != registry);
            let auth = BASE64.encode(format!("{}:{}", creds.username, creds.password));
            let mut entry = serde_json::json!({ "auth": auth });
            if let Some(token) = &creds.identity_token {
                entry["identitytoken"] = Value::String(token.clone());
            }
            auths.insert(server_key(registry), entry);
        }
        self.save()
    }

    /// Forget a registry's credentials; returns whether any were stored.
    pub fn erase(&mut self, registry: &str) -> Result<bool, AuthError> {
        if let Some(helper) = self.helper_for(registry) {
            helper_run(&helper, "erase", &server_key(registry))?;
        }
        let removed = match self.json.get_mut("auths").and_then(Value::as_object_mut) {
            Some(auths) => {
                let before = auths.len();
                auths.retain(|k, _| normalize_key(k) != registry);
                before != auths.len()
            }
            None => false,
        };
        if removed {
            self.save()?;
        }
        Ok(removed)
    }

    fn save(&self) -> Result<(), AuthError> {
        let err = |source| AuthError::Write { path: self.path.clone(), source };
        let body = serde_json::to_vec_pretty(&self.json).expect("a JSON map serialises");
        crate::fsutil::write_atomic(&self.path, &body, 0o600).map_err(err)
    }
}

/// Registry host a config.json key refers to (`https://index.docker.io/v1/` is docker.io).
fn normalize_key(key: &str) -> String {
    let host = key.trim_start_matches("https://").trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".into(),
        h => h.to_string(),
    }
}

fn server_key(registry: &str) -> String {
    if registry == "docker.io" { DOCKER_HUB_AUTH_KEY.into() } else { registry.into() }
}

fn helper_run(helper: &str, action: &str, input: &str) -> Result<String, AuthError> {
    let program = format!("docker-credential-{helper}");
    let fail = |message: String| AuthError::Helper { helper: helper.into(), message };
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    child.stdin.take().expect("piped").write_all(input.as_bytes()).map_err(|e| fail(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(fail(if stdout.is_empty() { stderr } else { stdout }))
    }
}

fn helper_get(helper: &str, server: &str) -> Result<Option<Credentials>, AuthError> {
    match helper_run(helper, "get", server) {
        Ok(out) => {
            let v: Value =
                serde_json::from_str(&out).map_err(|e| AuthError::Helper { helper: helper.into(), message: format!("bad JSON from helper: {e}") })?;
            let field = |k| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            if field("Username") == IDENTITY_TOKEN_USERNAME {
                return Ok(Some(Credentials { username: String::new(), password: String::new(), identity_token: Some(field("Secret")) }));
            }
            Ok(Some(Credentials::basic(field("Username"), field("Secret"))))
        }
        // The helper protocol's way of saying "nothing stored".
        Err(AuthError::Helper { message, .. }) if message.contains("credentials not found") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The credential files read when pulling, in the order podman and skopeo read
/// them (containers-auth.json(5)): `$REGISTRY_AUTH_FILE`, else
/// `$XDG_RUNTIME_DIR/containers/auth.json`; then docker's config.json. The first
/// file with an entry (or helper) for a registry answers for it.
pub struct AuthFiles {
    files: Vec<DockerConfig>,
}

impl AuthFiles {
    /// The paths read, in order; missing files are skipped when loading.
    pub fn default_paths() -> Vec<PathBuf> {
        let mut paths = Vec::new();
        match std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
            Some(file) => paths.push(PathBuf::from(file)),
            None => {
                if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
                    paths.push(PathBuf::from(dir).join("containers/auth.json"));
                }
            }
        }
        paths.push(DockerConfig::default_path());
        paths
    }

    /// Load [`AuthFiles::default_paths`]; errors name the unreadable or invalid file.
    pub fn load() -> Result<AuthFiles, AuthError> {
        AuthFiles::load_from(&AuthFiles::default_paths())
    }

    pub fn load_from(paths: &[PathBuf]) -> Result<AuthFiles, AuthError> {
        Ok(AuthFiles { files: paths.iter().map(|p| DockerConfig::load_from(p)).collect::<Result<_, _>>()? })
    }

    /// Credentials for a registry host from the first file that has any.
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>, AuthError> {
        match self.files.iter().find(|f| f.has_entry_for(registry)) {
            Some(file) => file.credentials(registry),
            None => Ok(None),
        }
    }
}

impl From<DockerConfig> for AuthFiles {
    fn from(config: DockerConfig) -> AuthFiles {
        AuthFiles { files: vec![config] }
    }
}

pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}

/// The registry host `rde login|logout [SERVER]` means: `https://index.docker.io/v1/`,
/// `docker.io` or nothing all mean Docker Hub.
pub fn registry_host(server: Option<&str>) -> String {
    let Some(server) = server else { return "docker.io".into() };
    let host = server.trim_start_matches("https://").trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" | "" => "docker.io".into(),
        h => h.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_challenge() {
        let c = Challenge::parse(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/postgres:pull,push""#);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/postgres:pull,push".into()),
            })
        );
        assert_eq!(Challenge::parse(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(
            Challenge::parse(r#"bearer realm=http://127.0.0.1:5001/token, service = "x\"y""#),
            Some(Challenge::Bearer { realm: "http://127.0.0.1:5001/token".into(), service: Some("x\"y".into()), scope: None })
        );
        assert_eq!(Challenge::parse("Bearer service=x"), None);
        assert_eq!(Challenge::parse("Negotiate abc"), None);
    }

    fn ch(scheme: &str, token68: Option<&str>, params: &[(&str, &str)]) -> AuthChallenge {
        AuthChallenge {
            scheme: scheme.into(),
            token68: token68.map(String::from),
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn parses_every_challenge_of_rfc_7235() {
        // RFC 7235 section 4.1's example: two challenges, one header, a comma in a quoted string.
        assert_eq!(
            AuthChallenge::parse_all([r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#]),
            vec![ch("newauth", None, &[("realm", "apps"), ("type", "1"), ("title", r#"Login to "apps""#)]), ch("basic", None, &[("realm", "simple")]),]
        );
        // Several headers; token68; empty list elements; BWS around `=`; bare schemes.
        assert_eq!(
            AuthChallenge::parse_all(["Negotiate abc+/def==, , NTLM", r#"Bearer  realm = "https://a/t,x" ,scope=repo:pull,Basic"#]),
            vec![
                ch("negotiate", Some("abc+/def=="), &[]),
                ch("ntlm", None, &[]),
                ch("bearer", None, &[("realm", "https://a/t,x"), ("scope", "repo:pull")]),
                ch("basic", None, &[]),
            ]
        );
        // A token68 ending in `=` is not a parameter; a parameter after it starts nothing.
        assert_eq!(AuthChallenge::parse_all(["Foo abc="]), vec![ch("foo", Some("abc="), &[])]);
        // Garbage is skipped; an unterminated quoted string ends the header.
        assert_eq!(AuthChallenge::parse_all([r#"@@@, Basic realm="x"#]), vec![ch("basic", None, &[])]);
        assert_eq!(AuthChallenge::parse_all([""]), vec![]);
        // rde answers Bearer before Basic, wherever they come.
        let bearer = Challenge::pick([r#"Basic realm="r""#, r#"Bearer realm="https://auth/t",service="s""#]);
        assert_eq!(bearer, Some(Challenge::Bearer { realm: "https://auth/t".into(), service: Some("s".into()), scope: None }));
        assert_eq!(Challenge::pick([r#"Bearer service="no realm", Basic realm="r""#]), Some(Challenge::Basic));
    }

    #[test]
    fn reads_auths_and_keys_like_docker() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},"127.0.0.1:5000":{"username":"a","password":"b"},"bad.io":{"auth":"!!"}}}"#,
        )
        .unwrap();
        let cfg = DockerConfig::load_from(&path).unwrap();
        assert_eq!(cfg.credentials("docker.io").unwrap(), Some(Credentials::basic("user", "pass")));
        assert_eq!(cfg.credentials("127.0.0.1:5000").unwrap().unwrap().username, "a");
        assert_eq!(cfg.credentials("ghcr.io").unwrap(), None);
        assert!(matches!(cfg.credentials("bad.io"), Err(AuthError::BadAuthEntry { .. })));
    }

    #[test]
    fn store_and_erase_keep_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"psFormat":"x","auths":{"other:1":{"auth":"YTpi"}}}"#).unwrap();
        let mut cfg = DockerConfig::load_from(&path).unwrap();
        let creds = Credentials::basic("u", "p:w");
        cfg.store("docker.io", &creds).unwrap();
        let again = DockerConfig::load_from(&path).unwrap();
        assert_eq!(again.credentials("docker.io").unwrap(), Some(creds));
        assert!(again.credentials("other:1").unwrap().is_some());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let mut again = again;
        assert!(again.erase("docker.io").unwrap());
        assert!(!again.erase("docker.io").unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("psFormat") && !text.contains("index.docker.io"), "{text}");
    }

    #[test]
    fn identity_tokens_are_read_and_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        // What `az acr login` leaves: a placeholder user, no password, a refresh token.
        std::fs::write(
            &path,
            r#"{"auths":{"my.azurecr.io":{"auth":"MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==","identitytoken":"eyJrefresh"},"only.token":{"identitytoken":"t2"}}}"#,
        )
        .unwrap();
        let mut cfg = DockerConfig::load_from(&path).unwrap();
        let acr = cfg.credentials("my.azurecr.io").unwrap().unwrap();
        assert_eq!(acr.username, "00000000-0000-0000-0000-000000000000");
        assert_eq!(acr.password, "");
        assert_eq!(acr.identity_token.as_deref(), Some("eyJrefresh"));
        assert_eq!(cfg.credentials("only.token").unwrap().unwrap().identity_token.as_deref(), Some("t2"));
        let creds = Credentials { identity_token: Some("t3".into()), ..Credentials::basic("u", "") };
        cfg.store("other.io", &creds).unwrap();
        assert_eq!(DockerConfig::load_from(&path).unwrap().credentials("other.io").unwrap(), Some(creds));
    }

    #[test]
    fn auth_files_answer_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("auth.json");
        let docker = dir.path().join("config.json");
        std::fs::write(&podman, r#"{"auths":{"quay.io":{"auth":"cG9kOm1hbg=="}}}"#).unwrap();
        std::fs::write(&docker, r#"{"auths":{"quay.io":{"auth":"ZG9jOmtlcg=="},"ghcr.io":{"auth":"ZG9jOmtlcg=="}}}"#).unwrap();
        let missing = dir.path().join("missing.json");
        let files = AuthFiles::load_from(&[missing, podman, docker]).unwrap();
        assert_eq!(files.credentials("quay.io").unwrap(), Some(Credentials::basic("pod", "man")));
        assert_eq!(files.credentials("ghcr.io").unwrap(), Some(Credentials::basic("doc", "ker")));
        assert_eq!(files.credentials("docker.io").unwrap(), None);
    }
}
