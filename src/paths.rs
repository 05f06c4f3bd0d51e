//! Where rde keeps its state: rootful under /var/lib/rde and /run/rde, rootless
//! under the user's XDG directories. `RDE_ROOT`, `RDE_RUNROOT` and `RDE_CONFIG`
//! override them (tests use this to get a private store each).

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Paths {
    /// Persistent data: blobs, layers, images, volumes.
    pub data: PathBuf,
    /// Runtime state that dies with a reboot: container state, sockets.
    pub run: PathBuf,
    /// rde's own configuration file (registry mirrors, insecure registries).
    pub config_file: PathBuf,
    pub rootless: bool,
}

impl Paths {
    pub fn detect() -> Paths {
        let rootless = is_rootless();
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = crate::image::auth::home_dir();
        let (data, run, config_file) = if rootless {
            let uid = rustix::process::getuid().as_raw();
            (
                env("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share")).join("rde"),
                env("XDG_RUNTIME_DIR").map(|d| d.join("rde")).unwrap_or_else(|| PathBuf::from(format!("/tmp/rde-run-{uid}"))),
                env("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")).join("rde/config.toml"),
            )
        } else {
            (PathBuf::from("/var/lib/rde"), PathBuf::from("/run/rde"), PathBuf::from("/etc/rde/config.toml"))
        };
        Paths {
            data: env("RDE_ROOT").unwrap_or(data),
            run: env("RDE_RUNROOT").unwrap_or(run),
            config_file: env("RDE_CONFIG").unwrap_or(config_file),
            rootless,
        }
    }
}

/// Rootless means: not uid 0, or uid 0 only inside a user namespace that maps
/// less than the whole id space (rde's own rootless user namespace among them).
pub fn is_rootless() -> bool {
    if !rustix::process::geteuid().is_root() {
        return true;
    }
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}
