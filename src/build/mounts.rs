//! `RUN --mount=...` (BuildKit's dockerfile reference, "RUN --mount"): cache,
//! bind, tmpfs and secret mounts, parsed from their CSV options.

use super::shell_lex::Lexer;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MountError {
    #[error("RUN --mount={0}: unknown mount type {1:?}; hint: rde supports type=cache, bind, tmpfs and secret")]
    UnknownType(String, String),
    #[error("RUN --mount={0}: {1}")]
    Bad(String, String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MountType {
    /// A directory kept between builds (by `id`, default the target).
    Cache,
    /// A read-only view of the context or of a stage (`from`).
    Bind,
    Tmpfs,
    /// A file given with `--secret id=..,src=..`, at `/run/secrets/<id>` by default.
    Secret,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunMount {
    pub kind: MountType,
    pub target: String,
    /// bind: the path in the context or stage; secret: unused.
    pub source: String,
    pub from: Option<String>,
    /// cache: the cache's id; secret: the secret's id.
    pub id: String,
    pub read_only: bool,
    pub required: bool,
    /// cache: `shared` (the default), `private` or `locked`.
    pub sharing: String,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// bind: `from` names a directory build context; `source` is read inside it.
    pub from_dir: Option<std::path::PathBuf>,
}

/// The `from=` of a mount option text, if any (to find the stages a RUN needs).
pub fn from_option(text: &str) -> Option<String> {
    text.split(',').find_map(|kv| kv.strip_prefix("from=").map(str::to_string))
}

/// Parse one `--mount` value, expanding its values with the stage's variables.
pub fn parse(text: &str, env: &HashMap<String, String>, lexer: &Lexer) -> Result<RunMount, MountError> {
    let bad = |m: &str| MountError::Bad(text.to_string(), m.to_string());
    let mut fields: Vec<(String, Option<String>)> = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = match part.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(lexer.expand_word(v, env).map_err(|e| bad(&e.to_string()))?)),
            None => (part.trim().to_ascii_lowercase(), None),
        };
        fields.push((k, v));
    }
    let kind = match fields.iter().find(|(k, _)| k == "type").and_then(|(_, v)| v.clone()).as_deref().unwrap_or("bind") {
        "cache" => MountType::Cache,
        "bind" => MountType::Bind,
        "tmpfs" => MountType::Tmpfs,
        "secret" => MountType::Secret,
        other => return Err(MountError::UnknownType(text.to_string(), other.to_string())),
    };
    let mut m = RunMount {
        read_only: kind == MountType::Bind || kind == MountType::Secret,
        kind,
        target: String::new(),
        source: String::new(),
        from: None,
        id: String::new(),
        required: false,
        sharing: "shared".into(),
        mode: None,
        uid: None,
        gid: None,
        from_dir: None,
    };
    let flag = |v: &Option<String>| v.as_deref().is_none_or(|v| v == "true" || v == "1");
    for (k, v) in &fields {
        let value = || v.clone().ok_or_else(|| bad(&format!("{k} needs a value")));
        let number = |radix: u32| -> Result<u32, MountError> { u32::from_str_radix(&value()?, radix).map_err(|_| bad(&format!("{k} is not a number"))) };
        match k.as_str() {
            "type" => {}
            "target" | "dst" | "destination" => m.target = value()?,
            "source" | "src" => m.source = value()?,
            "from" => m.from = Some(value()?),
            "id" => m.id = value()?,
            "ro" | "readonly" => m.read_only = flag(v),
            "rw" | "readwrite" => m.read_only = !flag(v),
            "required" => m.required = flag(v),
            "sharing" => {
                m.sharing = value()?;
                if !matches!(m.sharing.as_str(), "shared" | "private" | "locked") {
                    return Err(bad("sharing is shared, private or locked"));
                }
            }
            "mode" => m.mode = Some(number(8)?),
            "uid" => m.uid = Some(number(10)?),
            "gid" => m.gid = Some(number(10)?),
            "size" | "env" => {}
            other => return Err(bad(&format!("unknown option {other:?}"))),
        }
    }
    if m.kind == MountType::Secret {
        if m.id.is_empty() {
            m.id = m.target.rsplit('/').next().unwrap_or_default().to_string();
        }
        if m.id.is_empty() {
            return Err(bad("a secret mount needs id= (or target=)"));
        }
        if m.target.is_empty() {
            m.target = format!("/run/secrets/{}", m.id);
        }
    }
    if m.target.is_empty() {
        return Err(bad("target= is required"));
    }
    if m.kind == MountType::Cache && m.id.is_empty() {
        m.id = m.target.clone();
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<RunMount, MountError> {
        parse(text, &HashMap::from([("DIR".to_string(), "/root/.cache".to_string())]), &Lexer::new('\\'))
    }

    #[test]
    fn mounts_parse_with_buildkit_defaults() {
        let c = p("type=cache,target=$DIR").unwrap();
        assert_eq!((c.kind.clone(), c.target.as_str(), c.id.as_str(), c.read_only), (MountType::Cache, "/root/.cache", "/root/.cache", false));
        let b = p("type=bind,source=req.txt,target=/tmp/req.txt").unwrap();
        assert!(b.read_only);
        assert!(!p("type=bind,target=/x,rw").unwrap().read_only);
        let s = p("type=secret,id=token").unwrap();
        assert_eq!(s.target, "/run/secrets/token");
        assert_eq!(p("target=/x").unwrap().kind, MountType::Bind);
        assert!(matches!(p("type=ssh,target=/x"), Err(MountError::UnknownType(..))));
        assert!(p("type=cache").is_err());
        assert!(p("type=cache,target=/x,bogus=1").is_err());
        assert_eq!(from_option("type=bind,from=build,source=/a,target=/b").as_deref(), Some("build"));
    }
}
