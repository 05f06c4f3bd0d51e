//! The OCI runtime spec (bundle `config.json`) for a container: pure data in,
//! JSON out, with docker's defaults (capabilities, masked paths, /dev, /proc...).

use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder,
    LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, LinuxSeccomp, Mount as OciMount, MountBuilder, PosixRlimitBuilder, PosixRlimitType,
    ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use serde_json::Value;

/// Docker's default capability set: enough for chown, setuid daemons (postgres), binding low ports.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: [&str; 6] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys/fs/cgroup"];

/// `netns_path` for a container on the host's network.
pub const HOST_NETWORK: &str = "host";

/// A mount into the container, after volumes and binds are resolved to host paths.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    pub destination: String,
    pub kind: MountKind,
    pub read_only: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum MountKind {
    /// A host path (bind mount or a named volume's directory).
    Bind {
        source: String,
    },
    Tmpfs {
        size: Option<u64>,
    },
}

/// Everything the spec depends on, resolved (user names to ids, image defaults applied).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub terminal: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// (resource, soft, hard), e.g. ("RLIMIT_NOFILE", 1024, 4096).
    pub rlimits: Vec<(String, u64, u64)>,
    /// `no-new-privileges`: exec cannot gain privileges (setuid bits, file capabilities).
    #[serde(default)]
    pub no_new_privileges: bool,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ContainerSpec {
    pub process: ProcessSpec,
    pub hostname: String,
    pub rootfs: String,
    pub read_only: bool,
    pub mounts: Vec<Mount>,
    /// Files rde writes for the container (/etc/hosts, /etc/hostname, /etc/resolv.conf).
    pub etc_files: Vec<(String, String)>,
    pub cgroups_path: String,
    pub memory_limit: Option<u64>,
    pub cpu_quota: Option<(i64, u64)>,
    pub pids_limit: Option<i64>,
    /// Join this network namespace (a path) instead of creating one; `HOST_NETWORK`: none.
    pub netns_path: Option<String>,
    pub shm_size: Option<u64>,
    /// No device cgroup enforces the allow-list on this host
    /// ([`devices_confined`](super::rootfs::devices_confined) is false): bind
    /// mounts are `nodev` (and so is the rootfs, mounted by the shim).
    #[serde(default)]
    pub no_device_nodes: bool,
    /// The seccomp filter (docker's default profile unless told otherwise).
    #[serde(default)]
    pub seccomp: super::seccomp::Seccomp,
}

/// Normalise a capability name: `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN`.
pub fn capability_name(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") }
}

/// The effective capability set: docker's defaults, plus `cap_add`, minus `cap_drop` (`ALL` works in both).
pub fn capabilities(cap_add: &[String], cap_drop: &[String]) -> Vec<String> {
    let all_dropped = cap_drop.iter().any(|c| capability_name(c) == "CAP_ALL");
    let mut caps: Vec<String> = if all_dropped { Vec::new() } else { DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect() };
    for add in cap_add {
        let add = capability_name(add);
        if add == "CAP_ALL" {
            // Every capability rde itself may hand on: a host (or an outer container) whose
            // bounding set lacks some would fail the container's capset otherwise.
            caps = ALL_CAPABILITIES.iter().filter(|c| in_bounding_set(c)).map(|c| c.to_string()).collect();
        } else if !caps.contains(&add) {
            caps.push(add);
        }
    }
    let drops: Vec<String> = cap_drop.iter().map(|c| capability_name(c)).collect();
    caps.retain(|c| !drops.contains(c));
    caps
}

/// Whether this process's bounding set holds `name` (`CAP_...`); unknown names count as held
/// (the spec's own check names them).
pub fn in_bounding_set(name: &str) -> bool {
    match ALL_CAPABILITIES.iter().position(|c| *c == name) {
        // SAFETY: PR_CAPBSET_READ reads a flag of this thread; no memory is passed.
        // 1: held; 0: not; -1 (EINVAL): a capability this kernel does not know, so not held.
        Some(number) => (unsafe { libc::prctl(libc::PR_CAPBSET_READ, number as libc::c_ulong, 0, 0, 0) }) == 1,
        None => true,
    }
}

/// By capability number: CAP_CHOWN is 0, CAP_CHECKPOINT_RESTORE 40 (linux/capability.h).
const ALL_CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Why a [`ContainerSpec`] cannot become an OCI runtime spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("unknown capability {0}; hint: name a Linux capability such as NET_ADMIN (see capabilities(7))")]
    Capability(String),
    #[error("unknown ulimit {0}; hint: use one of getrlimit(2)'s resources, such as nofile or nproc")]
    Rlimit(String),
    #[error("the seccomp filter does not fit the OCI runtime spec: {0}")]
    Seccomp(serde_json::Error),
    #[error("cannot build the OCI runtime spec: {0}")]
    Build(#[from] oci_spec::OciSpecError),
}

/// The bundle's config.json (OCI runtime spec 1.0.2), built with oci-spec's
/// typed builders. Fields rde does not set are left out (not oci-spec's
/// defaults): no annotations, no inheritable or ambient capabilities, and
/// `noNewPrivileges` only when true (libcontainer loads the seccomp filter
/// before dropping capabilities when it is absent, after, needing it, when present).
///
/// Errors: an unknown capability or rlimit name, a seccomp filter oci-spec cannot read.
pub fn runtime_spec(c: &ContainerSpec) -> Result<Spec, SpecError> {
    let p = &c.process;
    let caps = capabilities(&p.cap_add, &p.cap_drop);
    let cap_set = caps
        .iter()
        .map(|name| serde_json::from_value::<Capability>(Value::String(name.clone())).map_err(|_| SpecError::Capability(name.clone())))
        .collect::<Result<Capabilities, _>>()?;
    let mut capabilities = LinuxCapabilitiesBuilder::default().bounding(cap_set.clone()).effective(cap_set.clone()).permitted(cap_set).build()?;
    capabilities.set_inheritable(None);
    capabilities.set_ambient(None);
    let rlimits = p
        .rlimits
        .iter()
        .map(|(name, soft, hard)| {
            let typ = serde_json::from_value::<PosixRlimitType>(Value::String(name.clone())).map_err(|_| SpecError::Rlimit(name.clone()))?;
            Ok(PosixRlimitBuilder::default().typ(typ).soft(*soft).hard(*hard).build()?)
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    let user = UserBuilder::default().uid(p.uid).gid(p.gid).additional_gids(p.additional_gids.clone()).build()?;
    let mut process = ProcessBuilder::default()
        .terminal(p.terminal)
        .user(user)
        .args(p.args.clone())
        .env(p.env.clone())
        .cwd(&p.cwd)
        .capabilities(capabilities)
        .rlimits(rlimits)
        .build()?;
    process.set_no_new_privileges(p.no_new_privileges.then_some(true));

    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"])?,
        mount("/dev/pts", "devpts", "devpts", &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"])?,
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", &format!("size={}", c.shm_size.unwrap_or(64 << 20))])?,
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"])?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"])?,
    ];
    for m in &c.mounts {
        mounts.push(match &m.kind {
            MountKind::Bind { source } => {
                let mut options = vec!["rbind", "rprivate"];
                if m.read_only {
                    options.push("ro");
                }
                if c.no_device_nodes {
                    options.push("nodev");
                }
                mount(&m.destination, "bind", source, &options)?
            }
            MountKind::Tmpfs { size } => {
                let mut options = vec!["nosuid".to_string(), "nodev".to_string(), "mode=1777".to_string()];
                if let Some(size) = size {
                    options.push(format!("size={size}"));
                }
                if m.read_only {
                    options.push("ro".into());
                }
                mount(&m.destination, "tmpfs", "tmpfs", &options)?
            }
        });
    }
    for (destination, source) in &c.etc_files {
        mounts.push(mount(destination, "bind", source, &["rbind", "rprivate"])?);
    }

    let namespace = |typ| LinuxNamespaceBuilder::default().typ(typ).build();
    let mut namespaces = vec![
        namespace(LinuxNamespaceType::Pid)?,
        namespace(LinuxNamespaceType::Ipc)?,
        namespace(LinuxNamespaceType::Uts)?,
        namespace(LinuxNamespaceType::Mount)?,
    ];
    match &c.netns_path {
        // The host's network: no namespace of its own.
        Some(path) if path == HOST_NETWORK => {}
        Some(path) => namespaces.push(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network).path(path).build()?),
        None => namespaces.push(namespace(LinuxNamespaceType::Network)?),
    }
    let mut resources = LinuxResourcesBuilder::default().devices(vec![LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build()?]);
    if let Some(limit) = c.memory_limit {
        resources = resources.memory(LinuxMemoryBuilder::default().limit(limit as i64).build()?);
    }
    if let Some((quota, period)) = c.cpu_quota {
        resources = resources.cpu(LinuxCpuBuilder::default().quota(quota).period(period).build()?);
    }
    if let Some(pids) = c.pids_limit {
        resources = resources.pids(LinuxPidsBuilder::default().limit(pids).build()?);
    }
    let seccomp =
        c.seccomp.linux_seccomp(&caps, &super::seccomp::Host::current()).map(serde_json::from_value::<LinuxSeccomp>).transpose().map_err(SpecError::Seccomp)?;
    let mut linux = LinuxBuilder::default()
        .cgroups_path(&c.cgroups_path)
        .namespaces(namespaces)
        .resources(resources.build()?)
        .masked_paths(MASKED_PATHS.map(String::from).to_vec())
        .readonly_paths(READONLY_PATHS.map(String::from).to_vec())
        .build()?;
    linux.set_seccomp(seccomp);

    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .process(process)
        .root(RootBuilder::default().path(&c.rootfs).readonly(c.read_only).build()?)
        .hostname(&c.hostname)
        .mounts(mounts)
        .linux(linux)
        .build()?;
    spec.set_annotations(None);
    Ok(spec)
}

/// One mount entry: where, filesystem type, source, options.
fn mount(destination: &str, typ: &str, source: &str, options: &[impl AsRef<str>]) -> Result<OciMount, SpecError> {
    let options = options.iter().map(|o| o.as_ref().to_string()).collect::<Vec<_>>();
    Ok(MountBuilder::default().destination(destination).typ(typ).source(source).options(options).build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> ContainerSpec {
        ContainerSpec {
            process: ProcessSpec {
                args: vec!["postgres".into()],
                env: vec!["PATH=/usr/bin:/bin".into()],
                cwd: "/".into(),
                uid: 0,
                gid: 0,
                rlimits: vec![("RLIMIT_NOFILE".into(), 1024, 20000)],
                ..Default::default()
            },
            hostname: "db".into(),
            rootfs: "/var/lib/rde/containers-v1/abc/merged".into(),
            mounts: vec![
                Mount { destination: "/data".into(), kind: MountKind::Bind { source: "/srv/data".into() }, read_only: true },
                Mount { destination: "/tmp".into(), kind: MountKind::Tmpfs { size: Some(1 << 20) }, read_only: false },
            ],
            cgroups_path: "/rde/abc".into(),
            memory_limit: Some(512 << 20),
            ..Default::default()
        }
    }

    #[test]
    fn the_spec_is_a_valid_oci_runtime_spec() {
        let spec = runtime_spec(&sample()).unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(spec.hostname().as_deref(), Some("db"));
        assert_eq!(v["linux"]["cgroupsPath"], "/rde/abc");
        assert_eq!(v["process"]["capabilities"]["bounding"].as_array().unwrap().len(), 14);
        let binds: Vec<&Value> = v["mounts"].as_array().unwrap().iter().filter(|m| m["destination"] == "/data").collect();
        assert_eq!(binds[0]["options"], json!(["rbind", "rprivate", "ro"]));
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 512 << 20);
        assert_eq!(spec.linux().as_ref().unwrap().seccomp().as_ref().unwrap().default_action(), oci_spec::runtime::LinuxSeccompAction::ScmpActErrno);
        assert_eq!(spec.process().as_ref().unwrap().no_new_privileges(), None);
        // Nothing of oci-spec's own defaults leaks in.
        assert!(v.get("annotations").is_none() && v["process"].get("noNewPrivileges").is_none(), "{v}");
        assert!(v["process"]["capabilities"].get("inheritable").is_none() && v["process"]["capabilities"].get("ambient").is_none());
        assert_eq!(v["process"]["rlimits"], json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 20000}]));
        assert_eq!(v["linux"]["namespaces"], json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}]));
        let mut bad = sample();
        bad.process.cap_add = vec!["NET_WIZARD".into()];
        assert_eq!(
            runtime_spec(&bad).unwrap_err().to_string(),
            "unknown capability CAP_NET_WIZARD; hint: name a Linux capability such as NET_ADMIN (see capabilities(7))"
        );
    }

    #[test]
    fn seccomp_and_no_new_privileges() {
        let mut c = sample();
        c.seccomp = crate::runtime::seccomp::Seccomp::Unconfined;
        c.process.no_new_privileges = true;
        let v = serde_json::to_value(runtime_spec(&c).unwrap()).unwrap();
        assert!(v["linux"].get("seccomp").is_none());
        assert_eq!(v["process"]["noNewPrivileges"], true);
        // Records written before these fields existed read as docker's defaults.
        let mut old = serde_json::to_value(sample()).unwrap();
        old.as_object_mut().unwrap().remove("seccomp");
        old["process"].as_object_mut().unwrap().remove("no_new_privileges");
        let old: ContainerSpec = serde_json::from_value(old).unwrap();
        assert_eq!((old.seccomp, old.process.no_new_privileges), (crate::runtime::seccomp::Seccomp::Default, false));
    }

    #[test]
    fn capability_arithmetic() {
        let caps = capabilities(&["net_admin".into()], &["CAP_MKNOD".into(), "chown".into()]);
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_MKNOD".to_string()) && !caps.contains(&"CAP_CHOWN".to_string()));
        assert_eq!(capabilities(&[], &["ALL".into()]), Vec::<String>::new());
        // ALL: what this process may hand on (this VM's bounding set lacks CAP_SYS_RESOURCE).
        let held = ALL_CAPABILITIES.iter().filter(|c| in_bounding_set(c)).count();
        assert_eq!(capabilities(&["ALL".into()], &[]).len(), held);
        let bounding = std::fs::read_to_string("/proc/self/status").unwrap();
        let bounding = bounding.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim();
        assert_eq!(
            u64::from_str_radix(bounding, 16).unwrap() & ((1 << 41) - 1),
            (0..41).filter(|n| in_bounding_set(ALL_CAPABILITIES[*n])).fold(0, |m, n| m | 1 << n)
        );
        assert_eq!((ALL_CAPABILITIES[24], ALL_CAPABILITIES[40]), ("CAP_SYS_RESOURCE", "CAP_CHECKPOINT_RESTORE"));
        assert_eq!(capabilities(&["kill".into()], &["all".into()]), ["CAP_KILL"]);
    }
}
