//! Seccomp: profiles in docker's format (docker's default, or a file given
//! with `--security-opt seccomp=FILE`) turned into the OCI runtime spec's
//! `linux.seccomp` for one container, with the filtering moby's
//! `profiles/seccomp` package does: a rule is kept or dropped by the
//! container's capabilities (its bounding set), the host's architecture and the
//! running kernel's version (`includes`/`excludes`), and `archMap` becomes the
//! host's architecture plus its sub-architectures (x86_64: x86 and x32 too).
//!
//! `seccomp/default.json` is docker's default profile, unchanged: the file
//! `profiles/seccomp/default.json` of github.com/moby/profiles, module
//! `github.com/moby/profiles/seccomp` v0.2.3 (as vendored by moby/moby),
//! Copyright The Moby Authors, licensed under the Apache License 2.0.
//! Its default action is `SCMP_ACT_ERRNO` (EPERM): what it does not list fails.
//!
//! The filter is loaded by libcontainer for the container's init (from
//! config.json) and by our executor for `exec` (libcontainer's tenant builder
//! drops `linux.seccomp`; see `runtime::executor::TenantExecutor`).

use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::LazyLock;

/// Docker's default profile (moby's `default.json`, see the module doc).
pub const DEFAULT_PROFILE: &str = include_str!("seccomp/default.json");

/// A profile file larger than this is refused (docker's default is 14 KiB).
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// Which filter a container runs under; part of the container record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Seccomp {
    /// Docker's default profile.
    #[default]
    Default,
    /// No filter (`seccomp=unconfined`).
    Unconfined,
    /// A profile in docker's format, read and checked when the container was
    /// created: a later edit of the file does not change the container.
    Custom {
        /// Where it was read from, for messages.
        file: String,
        profile: Profile,
    },
}

impl Seccomp {
    /// The runtime spec's `linux.seccomp` for a container whose bounding
    /// capability set is `capabilities` (`CAP_*` names), on `host`; `None`: no filter.
    pub fn linux_seccomp(&self, capabilities: &[String], host: &Host) -> Option<Value> {
        match self {
            Seccomp::Default => default_profile().linux_seccomp(capabilities, host),
            Seccomp::Unconfined => None,
            Seccomp::Custom { profile, .. } => profile.linux_seccomp(capabilities, host),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp profile {file}: {source}; hint: give the path of a JSON profile in docker's format, or seccomp=unconfined")]
    Read { file: String, source: std::io::Error },
    #[error("seccomp profile {file} is larger than {MAX_PROFILE_BYTES} bytes; hint: a profile is a JSON file in docker's format")]
    TooLarge { file: String },
    #[error("seccomp profile {file}: {source}; hint: a profile is a JSON object in docker's format (defaultAction, syscalls, ...)")]
    Json { file: String, source: serde_json::Error },
    #[error("seccomp profile {file}: {field}: {message}")]
    Invalid { file: String, field: String, message: String },
}

/// A kernel version as profiles compare it: `major.minor` (`"4.8"`), the rest ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KernelVersion {
    pub major: u64,
    pub minor: u64,
}

impl KernelVersion {
    /// From a kernel release (`uname -r`, e.g. `6.1.0-18-amd64`): its first two numbers.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        let mut parts = release.trim().splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let rest = parts.next()?;
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        Some(KernelVersion { major, minor: digits.parse().ok()? })
    }
}

impl TryFrom<String> for KernelVersion {
    type Error = String;

    /// moby's `minKernel` syntax: exactly `<major>.<minor>`, not `0.0`.
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bad = || format!("invalid kernel version {text:?}; hint: write \"<major>.<minor>\", e.g. \"4.8\"");
        let (major, minor) = text.split_once('.').ok_or_else(bad)?;
        let (major, minor): (u64, u64) = (major.parse().map_err(|_| bad())?, minor.parse().map_err(|_| bad())?);
        if major == 0 && minor == 0 {
            return Err(bad());
        }
        Ok(KernelVersion { major, minor })
    }
}

impl From<KernelVersion> for String {
    fn from(k: KernelVersion) -> String {
        format!("{}.{}", k.major, k.minor)
    }
}

/// What a profile's conditions are judged against.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// The architecture as moby's profiles name it in `includes.arches`
    /// (libseccomp's names: `amd64`, `arm64`, `x86`, `ppc64le`, `s390x`, ...).
    pub arch: String,
    /// The same as a seccomp architecture, the key into `archMap`; `None`: not in our table.
    pub scmp_arch: Option<Arch>,
    /// The running kernel; `None` when unknown (then no `minKernel` is met).
    pub kernel: Option<KernelVersion>,
}

impl Host {
    /// This machine: the architecture rde was built for and the running kernel.
    pub fn current() -> Host {
        let (arch, scmp_arch) = native_arch(std::env::consts::ARCH);
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Host { arch: arch.to_string(), scmp_arch, kernel: KernelVersion::from_release(&release) }
    }
}

/// Rust's architecture name -> (libseccomp's native name, seccomp architecture).
fn native_arch(rust_arch: &str) -> (&str, Option<Arch>) {
    let little = cfg!(target_endian = "little");
    match rust_arch {
        "x86_64" => ("amd64", Some(Arch::ScmpArchX86_64)),
        "x86" => ("x86", Some(Arch::ScmpArchX86)),
        "aarch64" => ("arm64", Some(Arch::ScmpArchAarch64)),
        "arm" => ("arm", Some(Arch::ScmpArchArm)),
        "riscv64" => ("riscv64", Some(Arch::ScmpArchRiscv64)),
        "s390x" => ("s390x", Some(Arch::ScmpArchS390x)),
        "loongarch64" => ("loong64", Some(Arch::ScmpArchLoongarch64)),
        "powerpc64" if little => ("ppc64le", Some(Arch::ScmpArchPpc64le)),
        "powerpc64" => ("ppc64", Some(Arch::ScmpArchPpc64)),
        "powerpc" => ("ppc", Some(Arch::ScmpArchPpc)),
        "mips64" if little => ("mipsel64", Some(Arch::ScmpArchMipsel64)),
        "mips64" => ("mips64", Some(Arch::ScmpArchMips64)),
        "mips" if little => ("mipsel", Some(Arch::ScmpArchMipsel)),
        "mips" => ("mips", Some(Arch::ScmpArchMips)),
        other => (other, None),
    }
}

/// A profile in docker's format, checked: every action, operator,
/// architecture, flag and kernel version is known. Serialises back to docker's format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// `None` only for a profile without rules, which means no filter (as docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<LinuxSeccompAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<Arch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<LinuxSeccompFilterFlag>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Vec<Arch>,
}

/// One entry of `syscalls`: an action for some syscalls, under conditions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub names: Vec<String>,
    pub action: LinuxSeccompAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
    #[serde(default, skip_serializing_if = "Condition::is_empty")]
    pub includes: Condition,
    #[serde(default, skip_serializing_if = "Condition::is_empty")]
    pub excludes: Condition,
}

/// `includes` (all must hold for the rule to apply) or `excludes` (any drops it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Capabilities, `CAP_*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    /// Architectures by libseccomp's native names (`amd64`, `arm64`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<KernelVersion>,
}

impl Condition {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// A comparison of one syscall argument, as docker and the runtime spec write
/// it: for `SCMP_CMP_MASKED_EQ`, `value` is the mask and `valueTwo` the datum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_two: Option<u64>,
    pub op: LinuxSeccompOperator,
}

/// Docker's default profile, parsed once.
pub fn default_profile() -> &'static Profile {
    static PROFILE: LazyLock<Profile> = LazyLock::new(|| Profile::parse(DEFAULT_PROFILE, "(docker's default)").expect("the embedded default profile is valid"));
    &PROFILE
}

/// Read and check a profile file (at most `MAX_PROFILE_BYTES`).
pub fn load_profile(path: &Path) -> Result<Profile, SeccompError> {
    use std::io::Read;
    let file = path.display().to_string();
    let read_err = |source| SeccompError::Read { file: file.clone(), source };
    let mut text = String::new();
    std::fs::File::open(path).map_err(read_err)?.take(MAX_PROFILE_BYTES + 1).read_to_string(&mut text).map_err(read_err)?;
    if text.len() as u64 > MAX_PROFILE_BYTES {
        return Err(SeccompError::TooLarge { file });
    }
    Profile::parse(&text, &file)
}

const ACTIONS: &str = "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG";
const OPERATORS: &str = "SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ";

// docker's format as written: strings where the checked profile has enums, so
// that an unknown one is reported with its field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    #[serde(default)]
    default_action: Option<String>,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<RawArchMap>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    syscalls: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<RawArg>>,
    #[serde(default)]
    includes: Option<RawCondition>,
    #[serde(default)]
    excludes: Option<RawCondition>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCondition {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: Option<u64>,
    op: String,
}

impl Profile {
    /// Parse and check docker's JSON format; `file` names the source in errors,
    /// which name the field (`syscalls[3].action`) or the JSON line.
    pub fn parse(text: &str, file: &str) -> Result<Profile, SeccompError> {
        let raw: RawProfile = serde_json::from_str(text).map_err(|source| SeccompError::Json { file: file.to_string(), source })?;
        let invalid = |field: String, message: String| SeccompError::Invalid { file: file.to_string(), field, message };
        let action = |field: String, text: &str| -> Result<LinuxSeccompAction, SeccompError> {
            let action: LinuxSeccompAction = enum_value(file, field.clone(), text, "action", &format!("one of {ACTIONS}"))?;
            if action == LinuxSeccompAction::ScmpActNotify {
                return Err(invalid(field, "SCMP_ACT_NOTIFY is not supported; hint: rde runs no seccomp agent, use SCMP_ACT_ERRNO".into()));
            }
            Ok(action)
        };
        let arch = |field: String, text: &str| -> Result<Arch, SeccompError> {
            enum_value(file, field, text, "architecture", "e.g. SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64")
        };
        let syscalls = raw.syscalls.unwrap_or_default();
        let default_action = match raw.default_action.as_deref() {
            None | Some("") if syscalls.is_empty() => None,
            None | Some("") => return Err(invalid("defaultAction".into(), format!("missing; hint: one of {ACTIONS}"))),
            Some(text) => Some(action("defaultAction".into(), text)?),
        };
        let raw_architectures = raw.architectures.unwrap_or_default();
        let raw_arch_map = raw.arch_map.unwrap_or_default();
        if !raw_architectures.is_empty() && !raw_arch_map.is_empty() {
            return Err(invalid("archMap".into(), "both architectures and archMap are given; hint: use one of them".into()));
        }
        let architectures = raw_architectures.iter().enumerate().map(|(i, a)| arch(format!("architectures[{i}]"), a)).collect::<Result<_, _>>()?;
        let mut arch_map = Vec::new();
        for (i, m) in raw_arch_map.iter().enumerate() {
            let sub_architectures = m
                .sub_architectures
                .iter()
                .flatten()
                .enumerate()
                .map(|(j, a)| arch(format!("archMap[{i}].subArchitectures[{j}]"), a))
                .collect::<Result<_, _>>()?;
            arch_map.push(ArchMap { architecture: arch(format!("archMap[{i}].architecture"), &m.architecture)?, sub_architectures });
        }
        let flags = raw
            .flags
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, f)| enum_value(file, format!("flags[{i}]"), f, "flag", "e.g. SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
            .collect::<Result<_, _>>()?;
        let condition = |field: String, c: Option<RawCondition>| -> Result<Condition, SeccompError> {
            let Some(c) = c else { return Ok(Condition::default()) };
            let min_kernel = match c.min_kernel.filter(|k| !k.is_empty()) {
                Some(k) => Some(KernelVersion::try_from(k).map_err(|message| invalid(format!("{field}.minKernel"), message))?),
                None => None,
            };
            Ok(Condition { caps: c.caps.unwrap_or_default(), arches: c.arches.unwrap_or_default(), min_kernel })
        };
        let mut rules = Vec::new();
        for (i, r) in syscalls.into_iter().enumerate() {
            let field = |name: &str| format!("syscalls[{i}].{name}");
            let names = match (r.name.filter(|n| !n.is_empty()), r.names.unwrap_or_default()) {
                (Some(_), names) if !names.is_empty() => return Err(invalid(field("name"), "both name and names are given; hint: use names".into())),
                (Some(name), _) => vec![name],
                (None, names) => names,
            };
            let action = match r.action.as_deref() {
                None | Some("") => return Err(invalid(field("action"), format!("missing; hint: one of {ACTIONS}"))),
                Some(text) => action(field("action"), text)?,
            };
            let mut args = Vec::new();
            for (j, a) in r.args.unwrap_or_default().into_iter().enumerate() {
                let op = enum_value(file, field(&format!("args[{j}].op")), &a.op, "operator", &format!("one of {OPERATORS}"))?;
                if a.index > 5 {
                    return Err(invalid(
                        field(&format!("args[{j}].index")),
                        format!("{} is not an argument index; hint: syscalls have arguments 0 to 5", a.index),
                    ));
                }
                args.push(Arg { index: a.index, value: a.value, value_two: a.value_two, op });
            }
            rules.push(Rule {
                names,
                action,
                errno_ret: r.errno_ret,
                args,
                includes: condition(field("includes"), r.includes)?,
                excludes: condition(field("excludes"), r.excludes)?,
            });
        }
        Ok(Profile { default_action, default_errno_ret: raw.default_errno_ret, architectures, arch_map, flags, syscalls: rules })
    }

    /// The runtime spec's `linux.seccomp` (as libcontainer reads it, see
    /// `libcontainer_arg`) for a container whose bounding capability set is
    /// `capabilities`, on `host`; `None` for a profile without rules (no filter).
    pub fn linux_seccomp(&self, capabilities: &[String], host: &Host) -> Option<Value> {
        let default_action = self.default_action?;
        let has_cap = |c: &String| capabilities.iter().any(|have| super::spec::capability_name(have) == super::spec::capability_name(c));
        let kernel_at_least = |min: &KernelVersion| host.kernel.is_some_and(|k| k >= *min);
        let mut architectures = self.architectures.clone();
        if let Some(native) = host.scmp_arch
            && let Some(m) = self.arch_map.iter().find(|m| m.architecture == native)
        {
            architectures.push(m.architecture);
            architectures.extend(m.sub_architectures.iter().copied());
        }
        let mut syscalls = Vec::new();
        for rule in &self.syscalls {
            let (inc, exc) = (&rule.includes, &rule.excludes);
            let excluded = exc.arches.contains(&host.arch) || exc.caps.iter().any(has_cap) || exc.min_kernel.as_ref().is_some_and(kernel_at_least);
            let included = (inc.arches.is_empty() || inc.arches.contains(&host.arch))
                && inc.caps.iter().all(has_cap)
                && inc.min_kernel.as_ref().is_none_or(kernel_at_least);
            if excluded || !included || rule.names.is_empty() {
                continue;
            }
            let mut syscall = json!({"names": rule.names, "action": rule.action});
            if let Some(errno) = rule.errno_ret {
                syscall["errnoRet"] = json!(errno);
            }
            if !rule.args.is_empty() {
                syscall["args"] = rule.args.iter().map(libcontainer_arg).collect();
            }
            syscalls.push(syscall);
        }
        let mut out = json!({"defaultAction": default_action});
        if let Some(errno) = self.default_errno_ret {
            out["defaultErrnoRet"] = json!(errno);
        }
        if !architectures.is_empty() {
            out["architectures"] = json!(architectures);
        }
        if !self.flags.is_empty() {
            out["flags"] = json!(self.flags);
        }
        out["syscalls"] = Value::Array(syscalls);
        Some(out)
    }
}

/// An enum of oci-spec from its name in the profile (the same names libcontainer reads).
fn enum_value<T: serde::de::DeserializeOwned>(file: &str, field: String, text: &str, what: &str, hint: &str) -> Result<T, SeccompError> {
    serde_json::from_value(Value::String(text.to_string())).map_err(|_| SeccompError::Invalid {
        file: file.to_string(),
        field,
        message: format!("unknown {what} {text:?}; hint: {hint}"),
    })
}

/// One argument comparison for libcontainer 0.7, which reads
/// `SCMP_CMP_MASKED_EQ` the other way round from runc and the runtime spec
/// (mask from `valueTwo`, datum from `value`): written for it, docker's
/// `clone` rule keeps its meaning ("no CLONE_NEW* flags"); read as written it
/// would be a mask of 0 and allow every clone, new namespaces included.
/// `masked_eq_follows_docker` checks this against libcontainer.
fn libcontainer_arg(a: &Arg) -> Value {
    let (value, value_two) = match a.op {
        LinuxSeccompOperator::ScmpCmpMaskedEq => (a.value_two.unwrap_or(0), a.value),
        _ => (a.value, a.value_two.unwrap_or(0)),
    };
    json!({"index": a.index, "value": value, "valueTwo": value_two, "op": a.op})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amd64(kernel: &str) -> Host {
        Host { arch: "amd64".into(), scmp_arch: Some(Arch::ScmpArchX86_64), kernel: KernelVersion::from_release(kernel) }
    }

    fn default_caps() -> Vec<String> {
        super::super::spec::capabilities(&[], &[])
    }

    /// Every syscall name the filter allows (unconditionally, without args).
    fn allowed(filter: &Value) -> Vec<String> {
        let mut names = Vec::new();
        for s in filter["syscalls"].as_array().unwrap() {
            if s["action"] == "SCMP_ACT_ALLOW" && s.get("args").is_none() {
                names.extend(s["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()));
            }
        }
        names
    }

    #[test]
    fn the_default_profile_parses_and_is_valid_for_libcontainer() {
        let p = default_profile();
        assert_eq!(p.default_action, Some(LinuxSeccompAction::ScmpActErrno));
        assert_eq!(p.default_errno_ret, Some(1));
        let filter = Seccomp::Default.linux_seccomp(&default_caps(), &amd64("6.1.0-18-amd64")).unwrap();
        let oci: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(filter.clone()).expect("oci-spec reads it");
        assert_eq!(oci.architectures().as_deref(), Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..]));
        assert_eq!(filter["defaultErrnoRet"], 1);
        let allowed = allowed(&filter);
        for name in ["read", "write", "execve", "mkdir", "mkdirat", "arch_prctl", "chroot", "ptrace"] {
            assert!(allowed.contains(&name.to_string()), "{name}");
        }
        for name in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "reboot",
            "swapon",
            "keyctl",
            "add_key",
            "init_module",
            "bpf",
            "clone3",
            "clock_settime",
            "s390_runtime_instr",
        ] {
            assert!(!allowed.contains(&name.to_string()), "{name}");
        }
        // clone3 fails with ENOSYS so that glibc falls back to clone.
        let clone3 = filter["syscalls"].as_array().unwrap().iter().find(|s| s["names"] == json!(["clone3"])).unwrap();
        assert_eq!((&clone3["action"], &clone3["errnoRet"]), (&json!("SCMP_ACT_ERRNO"), &json!(38)));
        // Round trip through the record.
        let record = serde_json::to_string(&Seccomp::Custom { file: "/p.json".into(), profile: p.clone() }).unwrap();
        assert_eq!(serde_json::from_str::<Seccomp>(&record).unwrap(), Seccomp::Custom { file: "/p.json".into(), profile: p.clone() });
        assert_eq!(serde_json::from_str::<Seccomp>(r#"{"mode":"unconfined"}"#).unwrap(), Seccomp::Unconfined);
    }

    #[test]
    fn capabilities_add_their_syscalls() {
        let host = amd64("6.1");
        let with_admin = Seccomp::Default.linux_seccomp(&super::super::spec::capabilities(&["SYS_ADMIN".into()], &[]), &host).unwrap();
        let allowed_admin = allowed(&with_admin);
        for name in ["mount", "umount2", "unshare", "setns", "clone", "clone3"] {
            assert!(allowed_admin.contains(&name.to_string()), "{name}");
        }
        // With CAP_SYS_ADMIN the clone rule with flags and clone3's ENOSYS are excluded.
        assert!(!with_admin["syscalls"].as_array().unwrap().iter().any(|s| s["names"] == json!(["clone3"]) && s["action"] == "SCMP_ACT_ERRNO"));
        assert!(!with_admin["syscalls"].as_array().unwrap().iter().any(|s| s["names"] == json!(["clone"]) && s.get("args").is_some()));
        // Dropping CAP_SYS_CHROOT takes chroot away; adding SYS_TIME gives clock_settime.
        let caps = super::super::spec::capabilities(&["sys_time".into()], &["SYS_CHROOT".into()]);
        let allowed = allowed(&Seccomp::Default.linux_seccomp(&caps, &host).unwrap());
        assert!(!allowed.contains(&"chroot".to_string()) && allowed.contains(&"clock_settime".to_string()));
    }

    #[test]
    fn arches_and_kernel_versions_select_rules() {
        let arm = Host { arch: "arm64".into(), scmp_arch: Some(Arch::ScmpArchAarch64), kernel: KernelVersion::from_release("5.10.0") };
        let filter = Seccomp::Default.linux_seccomp(&default_caps(), &arm).unwrap();
        assert_eq!(filter["architectures"], json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]));
        let allowed = allowed(&filter);
        assert!(allowed.contains(&"arm_fadvise64_64".to_string()) && !allowed.contains(&"arch_prctl".to_string()));
        // An architecture outside archMap: no architectures (libseccomp's native one).
        let other = Host { arch: "sparc".into(), scmp_arch: None, kernel: None };
        assert!(Seccomp::Default.linux_seccomp(&default_caps(), &other).unwrap().get("architectures").is_none());
        // ptrace needs 4.8; an unknown kernel meets no minKernel.
        assert!(!self::allowed(&Seccomp::Default.linux_seccomp(&default_caps(), &amd64("4.4.0")).unwrap()).contains(&"ptrace".to_string()));
        assert!(self::allowed(&Seccomp::Default.linux_seccomp(&default_caps(), &amd64("4.8.1")).unwrap()).contains(&"ptrace".to_string()));
        assert!(!self::allowed(&Seccomp::Default.linux_seccomp(&default_caps(), &other).unwrap()).contains(&"ptrace".to_string()));
        assert_eq!(KernelVersion::from_release("6.18.44-fc-v1045"), Some(KernelVersion { major: 6, minor: 18 }));
        assert_eq!(KernelVersion::from_release("3.12-1-amd64"), Some(KernelVersion { major: 3, minor: 12 }));
        assert_eq!(KernelVersion::from_release("garbage"), None);
    }

    #[test]
    fn excludes_drop_rules() {
        let profile = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "excludes": {"caps": ["CAP_DAC_OVERRIDE"]}},
                {"name": "chmod", "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}},
                {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS", "excludes": {"minKernel": "5.4"}},
                {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_PTRACE", "CAP_SYS_ADMIN"]}}
            ]}"#,
            "p.json",
        )
        .unwrap();
        let names = |caps: &[&str], kernel: &str| -> Vec<Value> {
            let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
            profile.linux_seccomp(&caps, &amd64(kernel)).unwrap()["syscalls"].as_array().unwrap().iter().map(|s| s["names"].clone()).collect()
        };
        assert_eq!(names(&["CAP_CHOWN"], "5.3"), [json!(["mkdir", "mkdirat"]), json!(["rmdir"])]);
        assert_eq!(names(&["CAP_DAC_OVERRIDE", "CAP_SYS_PTRACE"], "5.4"), Vec::<Value>::new());
        assert_eq!(names(&["cap_sys_ptrace", "CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"], "6.0"), [json!(["ptrace"])]);
        let filter = profile.linux_seccomp(&[], &amd64("5.3")).unwrap();
        assert_eq!(filter["syscalls"][0]["errnoRet"], 13);
        assert_eq!(filter["syscalls"][1]["action"], "SCMP_ACT_KILL_PROCESS");
        assert!(filter.get("architectures").is_none());
    }

    #[test]
    fn empty_profiles_mean_no_filter() {
        assert_eq!(Profile::parse("{}", "p.json").unwrap().linux_seccomp(&[], &amd64("6.1")), None);
        assert_eq!(Seccomp::Unconfined.linux_seccomp(&[], &amd64("6.1")), None);
    }

    #[test]
    fn errors_name_the_file_and_field() {
        let err = |text: &str| Profile::parse(text, "/etc/p.json").unwrap_err().to_string();
        let e = err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["b"], "action": "SCMP_ACT_MAYBE"}]}"#,
        );
        assert!(e.starts_with("seccomp profile /etc/p.json: syscalls[1].action: unknown action \"SCMP_ACT_MAYBE\"; hint: one of SCMP_ACT_ALLOW"), "{e}");
        let e = err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "LT"}]}]}"#,
        );
        assert!(e.contains("syscalls[0].args[0].op: unknown operator \"LT\""), "{e}");
        let e = err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]}"#);
        assert!(e.contains("architectures[0]: unknown architecture \"SCMP_ARCH_VAX\""), "{e}");
        let e = err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4"}}]}"#);
        assert!(e.contains("syscalls[0].includes.minKernel: invalid kernel version \"4\""), "{e}");
        let e = err(r#"{"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}]}"#);
        assert!(e.contains("defaultAction: missing"), "{e}");
        let e = err(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#);
        assert!(e.contains("defaultAction: SCMP_ACT_NOTIFY is not supported"), "{e}");
        let e = err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#);
        assert!(e.contains("archMap: both architectures and archMap"), "{e}");
        let e = err("{\n  \"defaultAction\": 5\n}");
        assert!(e.starts_with("seccomp profile /etc/p.json: invalid type") && e.contains("line 2"), "{e}");
        let e = err("not json");
        assert!(e.starts_with("seccomp profile /etc/p.json: expected"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let e = load_profile(&dir.path().join("missing.json")).unwrap_err().to_string();
        assert!(e.contains("missing.json: No such file"), "{e}");
        std::fs::write(dir.path().join("big.json"), vec![b' '; MAX_PROFILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(load_profile(&dir.path().join("big.json")), Err(SeccompError::TooLarge { .. })));
    }

    /// libcontainer loads our `SCMP_CMP_MASKED_EQ` with docker's meaning: the
    /// filter goes on a thread of its own (filters are per thread), with no_new_privs.
    #[test]
    fn masked_eq_follows_docker() {
        // In docker's words (value = mask, valueTwo = datum): getpgid(pid) fails
        // with 99 when (pid & 0xf0) == 0x10; getsid(pid) when pid has none of the
        // bits of docker's clone rule (the CLONE_NEW* flags), as clone without them is allowed.
        let profile = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99, "args": [{"index": 0, "value": 240, "valueTwo": 16, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["getsid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99, "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
            "p.json",
        )
        .unwrap();
        let filter: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(profile.linux_seccomp(&[], &Host::current()).unwrap()).unwrap();
        let results = std::thread::spawn(move || {
            nix::sys::prctl::set_no_new_privs().unwrap();
            libcontainer::seccomp::initialize_seccomp(&filter).unwrap();
            // Process ids that surely do not exist: ESRCH unless the filter answers 99.
            let refused = |r: i32| r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(99);
            let pgid = [0x7ffff11, 0x7ffff21, 0x7ffff31].map(|pid| refused(unsafe { libc::getpgid(pid) }));
            let sid = [0x11, 0x1000_0000].map(|pid| refused(unsafe { libc::getsid(pid) }));
            (pgid, sid)
        })
        .join()
        .unwrap();
        assert_eq!(results.0, [true, false, false], "only (pid & 0xf0) == 0x10 is refused");
        assert_eq!(results.1, [true, false], "CLONE_NEWUSER's bit is outside the allowed clone flags");
    }
}
