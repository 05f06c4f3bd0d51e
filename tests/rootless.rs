//! Rootless pulls: an unprivileged user with subordinate id ranges pulls into
//! their own store; layers keep their owners (mapped into the user's range),
//! whiteouts and `user.overlay.opaque` markers are written. The test creates the
//! users it needs, so it runs as root.

mod common;
use common::*;
#[path = "security/crafted.rs"]
mod crafted;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const USER_WITH_RANGE: &str = "rde-rootless";
const USER_WITHOUT_RANGE: &str = "rde-norange";

fn ensure_user(name: &str, subids: Option<&str>) -> u32 {
    if Command::new("id").arg(name).output().unwrap().status.code() != Some(0) {
        let status = Command::new("useradd").args(["--create-home", "--shell", "/bin/sh", name]).status().unwrap();
        assert!(status.success(), "useradd {name}");
    }
    let has_range = |file: &str| std::fs::read_to_string(file).unwrap_or_default().lines().any(|l| l.starts_with(&format!("{name}:")));
    match subids {
        Some(range) if !has_range("/etc/subuid") || !has_range("/etc/subgid") => {
            let status = Command::new("usermod").args(["--add-subuids", range, "--add-subgids", range, name]).status().unwrap();
            assert!(status.success());
        }
        None if has_range("/etc/subuid") || has_range("/etc/subgid") => {
            for (file, flag) in [("/etc/subuid", "--del-subuids"), ("/etc/subgid", "--del-subgids")] {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                for line in text.lines().filter(|l| l.starts_with(&format!("{name}:"))) {
                    let parts: Vec<&str> = line.split(':').collect();
                    let start: u64 = parts[1].parse().unwrap();
                    let count: u64 = parts[2].parse().unwrap();
                    let range = format!("{start}-{}", start + count - 1);
                    Command::new("usermod").args([flag, &range, name]).status().unwrap();
                }
            }
        }
        _ => {}
    }
    let out = Command::new("id").args(["-u", name]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn subuid_start(name: &str) -> u32 {
    let text = std::fs::read_to_string("/etc/subuid").unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{name}:"))).unwrap();
    line.split(':').nth(1).unwrap().parse().unwrap()
}

/// A world-readable copy of the binary and a store the user owns.
struct UserWorld {
    dir: tempfile::TempDir,
    user: String,
}

impl UserWorld {
    fn new(user: &str, uid: u32) -> UserWorld {
        let dir = tempfile::Builder::new().prefix("rde-rootless-").tempdir().unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_rde"), dir.path().join("rde")).unwrap();
        for sub in ["home", "home/.docker"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("config.toml"), "blocked-registries = [\"docker.io\"]\n").unwrap();
        Command::new("chmod").args(["755"]).arg(dir.path()).status().unwrap();
        Command::new("chown").args(["-R", &format!("{uid}:{uid}")]).arg(dir.path().join("home")).status().unwrap();
        UserWorld { dir, user: user.to_string() }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("home/store")
    }

    fn rde(&self, args: &[&str]) -> Run {
        let out = self.command(args, &self.dir.path().join("home"), &[]).output().unwrap();
        Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
    }

    /// rde as the user, in `cwd`, with `env` (`KEY=VALUE`) added to a clean environment.
    fn command(&self, args: &[&str], cwd: &Path, env: &[String]) -> Command {
        let home = self.dir.path().join("home");
        let mut c = Command::new("runuser");
        c.args(["-u", &self.user, "--", "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "NO_COLOR=1"])
            .arg(format!("HOME={}", home.display()))
            .arg(format!("RDE_ROOT={}", self.store().display()))
            .arg(format!("RDE_CONFIG={}", self.dir.path().join("config.toml").display()))
            .arg(format!("RDE_RUNROOT={}", home.join("run").display()))
            .args(env)
            .arg(self.dir.path().join("rde"))
            .args(args)
            .current_dir(cwd)
            .stdin(std::process::Stdio::null());
        c
    }
}

/// The user's rde in a compose project's directory.
struct InProject<'a> {
    world: &'a UserWorld,
    dir: PathBuf,
    env: Vec<String>,
}

impl Rde for InProject<'_> {
    fn run(&self, args: &[&str]) -> Run {
        let out = self.world.command(args, &self.dir, &self.env).output().unwrap();
        Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        self.world
            .command(args, &self.dir, &self.env)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap()
    }
}

impl Drop for UserWorld {
    /// Containers a failed test left behind go with it, and so does the user's
    /// session (its pause process).
    fn drop(&mut self) {
        if self.store().join("containers-v1").is_dir() {
            for id in self.rde(&["container", "ls", "-aq", "--no-trunc"]).stdout.lines() {
                self.rde(&["container", "rm", "-f", id]);
            }
        }
        if let Some(pid) = std::fs::read_to_string(self.dir.path().join("home/run/pause.pid")).ok().and_then(|p| p.trim().parse::<i32>().ok()) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

fn find(root: &Path, name: &str) -> Vec<PathBuf> {
    let out = Command::new("find").arg(root).args(["-name", name]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(PathBuf::from).collect()
}

#[test]
fn rootless_pull_keeps_owners_and_overlay_markers() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let reg = shared_registry();
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    let out = world.rde(&["image", "pull", &format!("{reg}/test/layers")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    let base = subuid_start(USER_WITH_RANGE);
    // uid 0 in the image is the user; uid 1000 is subordinate id base+999.
    let owned = find(&world.store().join("layers-v1"), "owned.txt");
    assert_eq!(owned.len(), 1, "{owned:?}");
    let meta = std::fs::metadata(&owned[0]).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (base + 999, base + 999));
    let suid = &find(&world.store().join("layers-v1"), "suid")[0];
    assert_eq!(std::fs::metadata(suid).unwrap().uid(), uid);
    // Layer 2's whiteout and opaque directory.
    let whiteouts: Vec<_> = find(&world.store().join("layers-v1"), "deleteme.txt")
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).unwrap().file_type().is_char_device())
        .collect();
    assert_eq!(whiteouts.len(), 1, "a 0:0 whiteout for deleteme.txt");
    let opaque = find(&world.store().join("layers-v1"), "opaque");
    let marked = opaque.iter().filter(|p| {
        let mut buf = [0u8; 8];
        rustix::fs::lgetxattr(p.as_path(), "user.overlay.opaque", &mut buf).is_ok()
    });
    assert_eq!(marked.count(), 1, "{opaque:?}");

    // The user can remove what they pulled, subordinate-owned files included.
    let out = world.rde(&["image", "rm", &format!("{reg}/test/layers")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(list(&world.store().join("layers-v1")).is_empty());
}

#[test]
fn a_user_without_subordinate_ids_gets_the_fix() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let reg = shared_registry();
    let uid = ensure_user(USER_WITHOUT_RANGE, None);
    let world = UserWorld::new(USER_WITHOUT_RANGE, uid);
    let out = world.rde(&["image", "pull", &format!("{reg}/library/busybox")]);
    assert_eq!(out.code, 125, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("usermod --add-subuids"), "{}", out.stderr);
    assert!(!world.store().join("layers-v1").exists() || list(&world.store().join("layers-v1")).is_empty());
}

#[test]
fn rootless_containers_run_exec_stop_and_map_owners() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let reg = shared_registry();
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    let image = format!("{reg}/library/busybox");
    let bind = world.dir.path().join("home/shared");
    std::fs::create_dir_all(&bind).unwrap();
    std::os::unix::fs::chown(&bind, Some(uid), Some(uid)).unwrap();
    let volume = format!("{}:/shared", bind.display());

    // Root in the container is the user on the host; uid 1000 is a subordinate id.
    let out = world.rde(&[
        "container",
        "run",
        "--rm",
        "-v",
        &volume,
        &image,
        "sh",
        "-c",
        "id -u; echo root > /shared/by-root; su app -c 'echo app > /tmp/x'; touch /shared/owned-by-app; chown 1000:1000 /shared/owned-by-app",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.lines().next(), Some("0"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(bind.join("by-root")).unwrap().uid(), uid);
    assert_eq!(std::fs::metadata(bind.join("owned-by-app")).unwrap().uid(), subuid_start(USER_WITH_RANGE) + 999);

    // A detached container: exec joins it, stop and rm clean it up.
    let out = world.rde(&["container", "run", "-d", "--name", "rl", &image, "sleep", "1000"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = world.rde(&["container", "exec", "-u", "app", "rl", "id", "-u"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "1000\n"), "{}", out.stderr);
    let out = world.rde(&["container", "exec", "rl", "cat", "/proc/1/cmdline"]);
    assert_eq!(out.stdout, "sleep\u{0}1000\u{0}", "{}", out.stderr);
    // cp both ways, running and stopped, inside the user's namespaces.
    std::fs::write(bind.join("to-copy"), "in").unwrap();
    std::os::unix::fs::chown(bind.join("to-copy"), Some(uid), Some(uid)).unwrap();
    let copy = |args: &[&str]| {
        let out = world.rde(&[&["container", "cp"][..], args].concat());
        assert_eq!(out.code, 0, "cp {args:?}: {}", out.stderr);
    };
    copy(&[bind.join("to-copy").to_str().unwrap(), "rl:/tmp/copied"]);
    assert_eq!(world.rde(&["container", "exec", "rl", "cat", "/tmp/copied"]).stdout, "in");
    copy(&["rl:/etc/hostname", bind.join("hostname").to_str().unwrap()]);
    assert_eq!(std::fs::metadata(bind.join("hostname")).unwrap().uid(), uid, "what comes out belongs to the user");
    let state_file = std::fs::read_dir(world.store().join("containers-v1")).unwrap().next().unwrap().unwrap().path().join("state.json");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(state_file).unwrap()).unwrap();
    let pids = [state["shim_pid"].as_i64().unwrap(), state["pid"].as_i64().unwrap()];
    let out = world.rde(&["container", "stop", "-t", "1", "rl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(world.rde(&["container", "ls", "-a"]).stdout.contains("Exited (137)"));
    copy(&["rl:/tmp/copied", bind.join("from-stopped").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(bind.join("from-stopped")).unwrap(), "in");
    let out = world.rde(&["container", "rm", "rl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(list(&world.store().join("containers-v1")).is_empty());
    // Neither its supervisor nor its init is left (an exited process may take a moment to be reaped).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    for pid in pids {
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z")) {
            assert!(std::time::Instant::now() < deadline, "process {pid} is still running");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[test]
fn rootless_containers_run_and_exec_under_the_seccomp_profile() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    let image = format!("{}/library/busybox", shared_registry());
    let field = |status: &str, name: &str| status.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).map(|v| v.trim().to_string()).unwrap_or_default();
    let out = world.rde(&["container", "run", "--rm", &image, "sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U true"]);
    assert_eq!(field(&out.stdout, "Seccomp"), "2", "{}{}", out.stdout, out.stderr);
    assert!(out.code != 0 && out.stderr.contains("Operation not permitted"), "{}", out.stderr);
    let out = world.rde(&["container", "run", "--rm", "--security-opt", "seccomp=unconfined", &image, "grep", "^Seccomp:", "/proc/self/status"]);
    assert_eq!(field(&out.stdout, "Seccomp"), "0", "{}{}", out.stdout, out.stderr);
    let out = world.rde(&["container", "run", "-d", "--name", "sc", &image, "sleep", "1000"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let init = world.rde(&["container", "exec", "sc", "cat", "/proc/1/status"]).stdout;
    let exec = world.rde(&["container", "exec", "sc", "cat", "/proc/self/status"]).stdout;
    assert_eq!(field(&exec, "Seccomp"), "2", "{exec}");
    assert_eq!((field(&exec, "CapEff"), field(&exec, "CapPrm")), (field(&init, "CapEff"), field(&init, "CapPrm")));
    assert_eq!(world.rde(&["container", "rm", "-f", "sc"]).code, 0);
}

#[test]
fn rootless_networks_publish_ports_and_resolve_names() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let reg = shared_registry();
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    let (busybox, python) = (format!("{reg}/library/busybox"), format!("{reg}/library/python:3.11"));
    let (tcp_port, udp_port) = (free_port(), free_port());
    let ok = |args: &[&str]| {
        let out = world.rde(args);
        assert_eq!(out.code, 0, "rde {}: {}{}", args.join(" "), out.stdout, out.stderr);
        out
    };
    ok(&["network", "create", "app"]);
    ok(&[
        "container",
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "app",
        "-p",
        &format!("127.0.0.1:{tcp_port}:80"),
        &busybox,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let reply = http_get(format!("127.0.0.1:{tcp_port}").parse().unwrap(), "/hostname").unwrap();
    assert!(reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200"), "{reply}");
    let out = ok(&["container", "run", "--rm", "--network", "app", &busybox, "sh", "-c", "echo x | nc -w 2 web 80 | head -1"]);
    assert_eq!(out.stdout, "HTTP/1.1 400 Bad Request\r\n");
    // By DNS too: the network's resolver runs in the session's namespace (nslookup skips /etc/hosts).
    let out = ok(&["container", "run", "--rm", "--network", "app", &busybox, "sh", "-c", "grep nameserver /etc/resolv.conf; nslookup web"]);
    let network: serde_json::Value = serde_json::from_str(&ok(&["network", "inspect", "app"]).stdout).unwrap();
    let gateway = network[0]["IPAM"]["Config"][0]["Gateway"].as_str().unwrap().to_string();
    assert!(out.stdout.starts_with(&format!("nameserver {gateway}\n")) && out.stdout.contains("Name:\tweb\nAddress:"), "{}{}", out.stdout, out.stderr);
    let echo = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 5353))\nwhile True:\n    data, peer = s.recvfrom(512)\n    s.sendto(b'pong:' + data, peer)\n";
    ok(&["container", "run", "-d", "--name", "udp", "--network", "app", "-p", &format!("127.0.0.1:{udp_port}:5353/udp"), &python, "python3", "-c", echo]);
    assert_eq!(udp_ask(format!("127.0.0.1:{udp_port}").parse().unwrap(), b"ping").as_deref(), Some(&b"pong:ping"[..]));
    ok(&["container", "restart", "-t", "1", "web"]);
    http_get(format!("127.0.0.1:{tcp_port}").parse().unwrap(), "/hostname").unwrap();
    ok(&["container", "rm", "-f", "web", "udp"]);
    ok(&["network", "rm", "app"]);
    // IPv6 between containers, in the session's namespace.
    ok(&["network", "create", "--ipv6", "six"]);
    ok(&["container", "run", "-d", "--name", "peer6", "--network", "six", &busybox, "sleep", "300"]);
    let out = ok(&["container", "run", "--rm", "--network", "six", &busybox, "sh", "-c", "ping6 -c 1 -W 2 peer6 && nslookup -type=AAAA peer6"]);
    assert!(out.stdout.contains("1 packets received") && out.stdout.contains("Address: fd"), "{}", out.stdout);
    ok(&["container", "rm", "-f", "peer6"]);
    ok(&["network", "rm", "six"]);
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{tcp_port}")).is_err());
}

#[test]
fn rootless_egress_goes_through_slirp4netns() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    let mut remote = RemoteHost::new(&unique_network().0[2..]);
    let script = format!("nc -w 3 10.250.{}.2 9000", remote.octet);
    let out = world.rde(&["container", "run", "--rm", &format!("{}/library/busybox", shared_registry()), "sh", "-c", &script]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "hello from remote\n"), "{}", out.stderr);
    // slirp4netns connects from the host: the remote sees the host's end of its link.
    assert_eq!(remote.peers().lines().collect::<Vec<_>>(), [format!("10.250.{}.1", remote.octet)]);
}

#[test]
fn rootless_seeds_workflow_on_the_example_project() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    std::fs::write(
        world.dir.path().join("config.toml"),
        format!("registry-mirrors = [\"http://{}\"]\nblocked-registries = [\"docker.io\"]\n", shared_registry()),
    )
    .unwrap();
    let project = copy_example(&world.dir.path().join("home"));
    Command::new("chown").args(["-R", &format!("{uid}:{uid}")]).arg(&project).status().unwrap();
    let (web_port, db_port) = (free_port(), free_port());
    let rde = InProject { world: &world, dir: project.clone(), env: vec![format!("WEB_PORT={web_port}"), format!("DB_PORT={db_port}")] };
    django_postgres_workflow(&rde, &project, web_port, db_port, &world.store());
}

#[test]
fn rootless_postgres_in_a_named_volume() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let reg = shared_registry();
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    let image = format!("{reg}/library/postgres:15");
    let out = world.rde(&["container", "run", "-d", "--name", "db", "-e", "POSTGRES_PASSWORD=pw", "-v", "pgdata:/var/lib/postgresql/data", &image]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = world.rde(&["container", "exec", "db", "psql", "-U", "postgres", "-tAc", "select 6 * 7"]);
        if out.code == 0 && out.stdout.trim() == "42" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "postgres never answered rootless: {}{}", out.stdout, out.stderr);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // initdb ran as user postgres: on the host its files belong to a subordinate id.
    let data = world.store().join("volumes-v1/pgdata/_data");
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(data.join("PG_VERSION")).unwrap().uid();
    assert!(owner >= subuid_start(USER_WITH_RANGE), "owned by {owner}");
    assert_eq!(world.rde(&["container", "stop", "db"]).code, 0);
    assert_eq!(world.rde(&["container", "rm", "db"]).code, 0);
}

#[test]
fn rootless_symlinks_in_an_image_stay_in_the_rootfs() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    // The user's own files are what a hostile image would go after.
    let victim = world.dir.path().join("home/victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("secret"), "the user's secret\n").unwrap();
    Command::new("chown").args(["-R", &format!("{uid}:{uid}")]).arg(&victim).status().unwrap();
    let host = victim.display().to_string();
    let image = crafted::crafted_image(
        "rootless-hostile-paths",
        &format!("link('app', '{host}')\nlink('data', '{host}')\nlink('etc/passwd', '{host}/secret')\n"),
        &["--workdir", "/app/x", "--cmd", r#"["sh","-c","pwd"]"#],
    );
    let out = world.rde(&["container", "run", "--rm", "-v", "seeded:/data", &image, "sh", "-c", "pwd; cat /data/secret 2>&1; true"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("the user's secret"), "{}", out.stdout);
    assert_eq!(list(&victim), ["secret"], "rde created something in the user's directory");
    let seeded = list(&world.store().join("volumes-v1/seeded/_data"));
    assert!(!seeded.contains(&"secret".to_string()), "{seeded:?}");
    let out = world.rde(&["container", "run", "--rm", "-u", "root", &image, "true"]);
    assert!(!out.stderr.contains("secret"), "{}", out.stderr);
}

#[test]
fn rootless_builds_run_steps_keep_owners_and_whiteouts_and_cache() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    let mirror = std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test");
    let reg = shared_registry();
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    let ctx = world.dir.path().join("home/ctx");
    std::fs::create_dir_all(ctx.join("src")).unwrap();
    std::fs::write(ctx.join("src/app.py"), "print('hello from the build')\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {reg}/library/python:3.11\n\
             RUN python3 -c \"import urllib.request; urllib.request.urlopen('{mirror}/debian/Release', timeout=10)\"\n\
             RUN rm /etc/issue && mkdir -p /data && chown 1000:1000 /data && echo x > /data/f\n\
             COPY --chown=1000:1000 src/ /app/\n\
             CMD [\"python3\", \"/app/app.py\"]\n"
        ),
    )
    .unwrap();
    Command::new("chown").args(["-R", &format!("{uid}:{uid}")]).arg(&ctx).status().unwrap();
    let ctx_s = ctx.display().to_string();
    let out = world.rde(&["image", "build", "-t", "rl-built", "--progress", "plain", &ctx_s]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let run = world.rde(&["container", "run", "--rm", "rl-built"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "hello from the build\n"), "{}", run.stderr);
    let files = world.rde(&["container", "run", "--rm", "rl-built", "sh", "-c", "stat -c '%u %n' /data /data/f /app/app.py; ls /etc/issue 2>&1; true"]);
    assert!(files.stdout.contains("1000 /data\n") && files.stdout.contains("1000 /app/app.py"), "{}", files.stdout);
    assert!(files.stdout.contains("No such file"), "the whiteout hides /etc/issue: {}", files.stdout);
    let again = world.rde(&["image", "build", "-t", "rl-built", "--progress", "plain", &ctx_s]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stderr.contains(" DONE "), "a rebuild comes from the cache:\n{}", again.stderr);
    assert!(list(&world.store().join("containers-v1")).is_empty());
}

#[test]
fn rootless_first_seeds_project_builds_and_runs_as_written() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test");
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    std::fs::write(
        world.dir.path().join("config.toml"),
        format!("registry-mirrors = [\"http://{}\"]\nblocked-registries = [\"docker.io\"]\n", shared_registry()),
    )
    .unwrap();
    let project = copy_djangosample(&world.dir.path().join("home"));
    Command::new("chown").args(["-R", &format!("{uid}:{uid}")]).arg(&project).status().unwrap();
    let rde = InProject { world: &world, dir: project.clone(), env: Vec::new() };
    djangosample_workflow(&rde, &project, &world.store());
}

#[test]
fn rootless_second_seeds_project_builds_and_serves_its_static_files() {
    assert!(is_root(), "the rootless suite creates users; run it as root through scripts/test");
    std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test");
    let uid = ensure_user(USER_WITH_RANGE, Some("300000-365535"));
    let world = UserWorld::new(USER_WITH_RANGE, uid);
    std::fs::write(
        world.dir.path().join("config.toml"),
        format!("registry-mirrors = [\"http://{}\"]\nblocked-registries = [\"docker.io\"]\n", shared_registry()),
    )
    .unwrap();
    let project = copy_pop_planner(&world.dir.path().join("home"));
    Command::new("chown").args(["-R", &format!("{uid}:{uid}")]).arg(&project).status().unwrap();
    let rde = InProject { world: &world, dir: project.clone(), env: Vec::new() };
    pop_planner_workflow(&rde, &project, &world.store());
}
