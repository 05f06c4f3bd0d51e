//! `--security-opt` and compose's `security_opt`, read as docker reads them:
//! `KEY=VALUE` or the older `KEY:VALUE`; `no-new-privileges` alone.
//!
//! Applied: `seccomp=unconfined`, `seccomp=builtin` (docker's default profile),
//! `seccomp=FILE` (a profile in docker's format, read now),
//! `no-new-privileges[=true|false]`. Accepted and not applied (the caller
//! warns): `apparmor=...`, `label=...`. Anything else is an error, as in docker.

use super::seccomp::{self, Seccomp, SeccompError};
use std::path::Path;

/// What a list of security options asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecurityOptions {
    pub seccomp: Seccomp,
    /// The process may not gain privileges (setuid, file capabilities) by exec.
    pub no_new_privileges: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SecurityOptError {
    #[error("invalid security option {0:?}; hint: use seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges")]
    Invalid(String),
    #[error("invalid security option {option:?}: {value:?} is not true or false")]
    NotBool { option: String, value: String },
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
}

/// Split `KEY=VALUE` / `KEY:VALUE` (docker's rule: `=` first; a bare
/// `no-new-privileges` has no value).
fn split(option: &str) -> Result<(&str, Option<&str>), SecurityOptError> {
    let option_trimmed = option.trim();
    if option_trimmed == "no-new-privileges" {
        return Ok((option_trimmed, None));
    }
    match option_trimmed.split_once('=').or_else(|| option_trimmed.split_once(':')) {
        Some((key, value)) if !value.is_empty() => Ok((key, Some(value))),
        _ => Err(SecurityOptError::Invalid(option.to_string())),
    }
}

/// Read the options; a seccomp profile file is read and checked now
/// (relative paths from the current directory; see `resolve_relative`).
pub fn parse(options: &[String]) -> Result<SecurityOptions, SecurityOptError> {
    let mut out = SecurityOptions::default();
    for option in options {
        match split(option)? {
            ("seccomp", Some("unconfined")) => out.seccomp = Seccomp::Unconfined,
            ("seccomp", Some("builtin")) => out.seccomp = Seccomp::Default,
            ("seccomp", Some(file)) => {
                let path = std::path::absolute(file).map_err(|source| SeccompError::Read { file: file.to_string(), source })?;
                let profile = seccomp::load_profile(&path)?;
                out.seccomp = Seccomp::Custom { file: path.display().to_string(), profile };
            }
            ("no-new-privileges", value) => {
                out.no_new_privileges = match value {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(other) => return Err(SecurityOptError::NotBool { option: option.clone(), value: other.to_string() }),
                }
            }
            ("apparmor" | "label", Some(_)) => {}
            _ => return Err(SecurityOptError::Invalid(option.clone())),
        }
    }
    Ok(out)
}

/// The options rde accepts without applying them (`apparmor=`, `label=`): warn about these.
pub fn not_applied(options: &[String]) -> Vec<String> {
    options.iter().filter(|o| matches!(split(o), Ok(("apparmor" | "label", _)))).cloned().collect()
}

/// A `seccomp=FILE` with a relative FILE made relative to `base` (compose
/// reads it from the project directory); other options unchanged.
pub fn resolve_relative(option: &str, base: &Path) -> String {
    match split(option) {
        Ok(("seccomp", Some(file))) if !matches!(file, "unconfined" | "builtin") && Path::new(file).is_relative() => {
            format!("seccomp={}", base.join(file).display())
        }
        _ => option.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn docker_forms() {
        assert_eq!(parse(&[]).unwrap(), SecurityOptions::default());
        let o = parse(&opts(&["seccomp=unconfined", "no-new-privileges"])).unwrap();
        assert_eq!((o.seccomp, o.no_new_privileges), (Seccomp::Unconfined, true));
        let o = parse(&opts(&["seccomp:unconfined", "no-new-privileges:true", "seccomp=builtin"])).unwrap();
        assert_eq!((o.seccomp, o.no_new_privileges), (Seccomp::Default, true));
        assert!(!parse(&opts(&["no-new-privileges=false"])).unwrap().no_new_privileges);
        assert!(parse(&opts(&["apparmor=unconfined", "label:disable"])).unwrap() == SecurityOptions::default());
        assert_eq!(not_applied(&opts(&["apparmor=unconfined", "seccomp=unconfined", "label=disable"])), ["apparmor=unconfined", "label=disable"]);
        for bad in ["seccomp", "seccomp=", "systempaths=unconfined", "nonsense", "no-new-privileges=maybe"] {
            assert!(parse(&opts(&[bad])).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_profile_file_is_read_at_parse_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        std::fs::write(&file, r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#).unwrap();
        let o = parse(&[format!("seccomp={}", file.display())]).unwrap();
        let Seccomp::Custom { file: recorded, profile } = &o.seccomp else { panic!("{:?}", o.seccomp) };
        assert_eq!(recorded, &file.display().to_string());
        assert_eq!(profile.syscalls[0].names, ["mkdir"]);
        // The legacy colon form, and a relative path from a compose project directory.
        assert_eq!(parse(&[format!("seccomp:{}", file.display())]).unwrap(), o);
        let resolved = resolve_relative("seccomp=p.json", dir.path());
        assert_eq!(resolved, format!("seccomp={}", file.display()));
        assert_eq!(parse(&[resolved]).unwrap(), o);
        assert_eq!(resolve_relative("seccomp:unconfined", dir.path()), "seccomp:unconfined");
        std::fs::write(&file, "{").unwrap();
        let e = parse(&[format!("seccomp={}", file.display())]).unwrap_err().to_string();
        assert!(e.starts_with(&format!("seccomp profile {}: EOF", file.display())), "{e}");
    }
}
