//! Platforms (`linux/arm64/v8`) and how an index entry is chosen for one.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8")]
pub struct InvalidPlatform(pub String);

impl Platform {
    /// The platform of the machine rde runs on, in OCI's names.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform { os: "linux".into(), architecture: architecture.into(), variant: variant.map(Into::into) }
    }

    /// Does an index entry for `other` run here when `self` was asked for?
    /// A missing variant on either side matches the architecture's default
    /// (arm64 means v8), as docker and containerd do.
    pub fn matches(&self, other: &Platform) -> bool {
        if self.os != other.os || normalize_arch(&self.architecture) != normalize_arch(&other.architecture) {
            return false;
        }
        match (&self.variant, &other.variant) {
            (Some(a), Some(b)) => a == b,
            (Some(a), None) => Some(a.as_str()) == default_variant(&self.architecture),
            (None, _) => true,
        }
    }

    /// Among entries that match, prefer the exact default variant.
    pub fn preference(&self, other: &Platform) -> u8 {
        match (&self.variant, &other.variant) {
            (Some(a), Some(b)) if a == b => 2,
            (None, Some(b)) if Some(b.as_str()) == default_variant(&self.architecture) => 2,
            (None, None) => 2,
            _ => 1,
        }
    }
}

fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn default_variant(arch: &str) -> Option<&'static str> {
    match normalize_arch(arch) {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

impl FromStr for Platform {
    type Err = InvalidPlatform;
    fn from_str(s: &str) -> Result<Platform, InvalidPlatform> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || InvalidPlatform(s.to_string());
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_lowercase(),
                architecture: normalize_arch(&arch.to_lowercase()).to_string(),
                variant: parts.get(2).filter(|v| !v.is_empty()).map(|v| v.to_lowercase()),
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn parses() {
        assert_eq!(p("linux/amd64").to_string(), "linux/amd64");
        assert_eq!(p("linux/aarch64").to_string(), "linux/arm64");
        assert_eq!(p("linux/arm/v7").variant.as_deref(), Some("v7"));
        for bad in ["linux", "", "linux/", "a/b/c/d"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_follows_default_variants() {
        assert!(p("linux/amd64").matches(&p("linux/amd64")));
        assert!(!p("linux/amd64").matches(&p("linux/arm64")));
        assert!(!p("linux/amd64").matches(&p("windows/amd64")));
        assert!(p("linux/arm64").matches(&p("linux/arm64/v8")));
        assert!(p("linux/arm64/v8").matches(&p("linux/arm64")));
        assert!(!p("linux/arm/v7").matches(&p("linux/arm/v6")));
        assert!(p("linux/arm").matches(&p("linux/arm/v6")));
        assert!(p("linux/arm").preference(&p("linux/arm/v7")) > p("linux/arm").preference(&p("linux/arm/v6")));
    }
}
