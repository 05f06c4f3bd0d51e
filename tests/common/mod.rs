//! Shared test harness: the real rde binary, a private store per test, real
//! registries started on 127.0.0.1 (and stopped on drop, also when a test fails).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The registry that `scripts/test` starts with every test image pushed.
pub fn shared_registry() -> String {
    std::env::var("RDE_TEST_REGISTRY")
        .expect("RDE_TEST_REGISTRY is not set: run the tests through scripts/test, which starts the test registry and pushes the test images")
}

const BLOCK_DOCKER_HUB: &str = "blocked-registries = [\"docker.io\"]\n";

/// A private rde world: its own store, config file, HOME and docker config,
/// and its own bridge names, firewall table and subnets (tests run in parallel).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
    /// Where rde runs (a compose project's directory).
    pub cwd: Option<PathBuf>,
    /// Bridges are `<prefix>0`, ...; the nftables table is `inet <prefix>`.
    pub net_prefix: String,
    net_pool: String,
    /// A program (and its arguments) rde runs under, e.g. `unshare` with mounts.
    pub wrap: Vec<String>,
}

/// A network prefix and /16 pool no other Env of this test run shares.
pub fn unique_network() -> (String, String) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = (std::process::id().wrapping_mul(31).wrapping_add(n)) % 4096;
    // 10.213.0.0/16 is the package mirror's (scripts/test-mirror, 10.213.0.1): never a test network's.
    let second = match 100 + (std::process::id() % 10) * 15 + n % 15 {
        213 => 250,
        x => x,
    };
    (format!("rt{tag:03x}"), format!("10.{second}.0.0/16"))
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new().prefix("rde-test-").tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home/.docker")).unwrap();
        let (net_prefix, net_pool) = unique_network();
        let env = Env { dir, extra_env: Vec::new(), cwd: None, net_prefix, net_pool, wrap: Vec::new() };
        env.write_config("");
        env
    }

    /// Tests must never reach Docker Hub: its names resolve through local mirrors only.
    fn write_config(&self, extra: &str) {
        let text = format!("{extra}{BLOCK_DOCKER_HUB}network-prefix = \"{}\"\nnetwork-pool = \"{}\"\n", self.net_prefix, self.net_pool);
        std::fs::write(self.config_file(), text).unwrap();
    }

    /// The /16 this store's networks come from (`10.N.0.0/16`).
    pub fn net_pool(&self) -> &str {
        &self.net_pool
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn docker_config(&self) -> PathBuf {
        self.home().join(".docker/config.json")
    }

    /// Make `docker.io` images come from `registry` (host:port), as a Docker Hub mirror.
    pub fn with_mirror(self, registry: &str) -> Env {
        self.write_config(&format!("registry-mirrors = [\"http://{registry}\"]\n"));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = match self.wrap.split_first() {
            Some((program, wrap_args)) => {
                let mut c = Command::new(program);
                c.args(wrap_args).arg(env!("CARGO_BIN_EXE_rde"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_rde")),
        };
        c.args(args)
            .env("RDE_ROOT", self.root())
            .env("RDE_RUNROOT", self.dir.path().join("run"))
            .env("RDE_CONFIG", self.config_file())
            .env("HOME", self.home())
            .env_remove("DOCKER_CONFIG")
            .env_remove("RDE_REGISTRY_MIRRORS")
            .env_remove("RDE_INSECURE_REGISTRIES")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            c.current_dir(dir);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run rde"), args)
    }

    /// Run and insist on success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(r.code == 0, "rde {} failed ({}):\n{}{}", args.join(" "), r.code, r.stdout, r.stderr);
        r
    }

    /// Run and insist on failure.
    pub fn fails(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(r.code != 0, "rde {} should have failed:\n{}{}", args.join(" "), r.stdout, r.stderr);
        r
    }

    pub fn layer_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.root().join("layers-v1")).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        v.sort();
        v
    }

    /// Nothing half-written: every layer dir is complete, no staging left behind.
    pub fn assert_store_consistent(&self) {
        for layer in self.layer_dirs() {
            assert!(layer.join("meta.json").is_file(), "incomplete layer {}", layer.display());
            assert!(layer.join("diff").is_dir(), "layer without diff {}", layer.display());
        }
        for entry in std::fs::read_dir(self.root().join("blobs-v1/sha256")).into_iter().flatten().flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            let hex = entry.file_name().to_string_lossy().into_owned();
            assert_eq!(sha256_hex(&bytes), hex, "blob {hex} does not match its name");
        }
    }
}

impl Drop for Env {
    /// Whatever a test left running or mounted goes, also when the test failed.
    fn drop(&mut self) {
        if self.root().join("containers-v1").is_dir() {
            let ids = self.run(&["container", "ls", "-aq", "--no-trunc"]).stdout;
            for id in ids.lines().filter(|l| !l.is_empty()) {
                let _ = self.command(&["container", "rm", "-f", id]).output();
            }
            let _ = self.command(&["network", "prune"]).output();
        }
        remove_network_leftovers(&self.net_prefix);
        let root = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        for target in mounts.lines().filter_map(|l| l.split_whitespace().nth(1)).filter(|t| t.starts_with(&root)) {
            let _ = Command::new("umount").args(["-l", target]).status();
        }
    }
}

/// Mount points under `dir` (a test asserts none are left).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let root = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts.lines().filter_map(|l| l.split_whitespace().nth(1)).filter(|t| t.starts_with(&root)).map(String::from).collect()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output, _args: &[&str]) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let out = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(bytes)?;
        c.wait_with_output()
    });
    String::from_utf8_lossy(&out.unwrap().stdout).split_whitespace().next().unwrap_or("").to_string()
}

pub fn free_port() -> u16 {
    // Two consecutive free ports: token mode uses port+1 for the issuer.
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if port < 65000 && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// A registry of the test's own (plain, htpasswd or token), stopped on drop.
pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret-pass";

impl Registry {
    pub fn start(mode: &str) -> Registry {
        let dir = tempfile::Builder::new().prefix("rde-registry-").tempdir().unwrap();
        let port = free_port();
        let status = Command::new(repo_root().join("scripts/registry"))
            .args(["start", "--mode", mode, "--port", &port.to_string(), "--dir"])
            .arg(dir.path())
            .args(["--user", USER, "--password", PASSWORD])
            .status()
            .expect("scripts/registry");
        let registry = Registry { dir, port };
        assert!(status.success(), "scripts/registry start --mode {mode} failed");
        registry
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Push test images (by destination repository, e.g. `library/busybox`) with skopeo.
    pub fn push(&self, repos: &[&str], creds: bool) {
        let mut c = Command::new(repo_root().join("scripts/test-images"));
        c.args(["push", &self.host(), "--only", &repos.join(",")]);
        if creds {
            c.args(["--creds", &format!("{USER}:{PASSWORD}")]);
        }
        let out = c.output().expect("scripts/test-images");
        assert!(out.status.success(), "push failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Path of a blob's data in the registry's filesystem storage.
    pub fn blob_data(&self, hex: &str) -> PathBuf {
        self.dir.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/registry")).args(["stop", "--dir"]).arg(self.dir.path()).status();
    }
}

/// The manifest of `repo:tag` in an OCI/Docker registry, via skopeo (independent of rde).
pub fn skopeo_inspect_raw(image: &str) -> serde_json::Value {
    let out = Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{image}")]).output().unwrap();
    assert!(out.status.success(), "skopeo inspect {image}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Files under `dir`, for quick listings in assertions.
pub fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

/// Bridges named `<prefix>...` and the `ip <prefix>` table, if anything is left of them.
pub fn remove_network_leftovers(prefix: &str) {
    let links = Command::new("ip").args(["-o", "link", "show"]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    for name in links.lines().filter_map(|l| l.split(": ").nth(1)).map(|n| n.split('@').next().unwrap_or(n)) {
        if name.starts_with(prefix) {
            let _ = Command::new("ip").args(["link", "delete", name]).status();
        }
    }
    for family in ["ip", "inet"] {
        let _ = Command::new("nft").args(["delete", "table", family, prefix]).stderr(Stdio::null()).status();
    }
    // The chain rde adds where iptables' FORWARD policy drops.
    let chain = format!("{}-FORWARD", prefix.to_uppercase());
    let _ = Command::new("iptables").args(["-w", "-D", "FORWARD", "-j", &chain]).stderr(Stdio::null()).status();
    let _ = Command::new("iptables").args(["-w", "-F", &chain]).stderr(Stdio::null()).status();
    let _ = Command::new("iptables").args(["-w", "-X", &chain]).stderr(Stdio::null()).status();
}

/// An HTTP GET of `path` through `addr`, retried until the service answers.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())?;
            let mut reply = String::new();
            s.read_to_string(&mut reply)?;
            Ok(reply)
        })();
        match attempt {
            Ok(reply) if reply.starts_with("HTTP/1") => return Ok(reply),
            Ok(reply) if Instant::now() >= deadline => return Err(format!("unexpected reply {reply:?}")),
            Err(e) if Instant::now() >= deadline => return Err(e.to_string()),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Send a datagram to `addr` until a reply comes back.
pub fn udp_ask(addr: SocketAddr, word: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        socket.send_to(word, addr).unwrap();
        let mut buf = [0u8; 256];
        if let Ok(n) = socket.recv(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

/// A "remote" host: a network namespace with a veth to the host, made and
/// removed by the test, and a TCP server in it that reports its peers.
pub struct RemoteHost {
    /// The remote is 10.250.<octet>.2 and fd99:<octet>::2; the host's end of the link is .1 and ::1.
    pub octet: u8,
    netns: String,
    link: String,
    server: std::process::Child,
}

impl RemoteHost {
    pub fn new(tag: &str) -> RemoteHost {
        let third_octet = (u16::from_str_radix(tag, 16).unwrap_or(0) % 250) as u8;
        let netns = format!("rde-remote-{tag}");
        let link = format!("rdr{tag}");
        let host_ip = format!("10.250.{third_octet}.1/24");
        let remote_ip = format!("10.250.{third_octet}.2/24");
        let sh = |script: &str| {
            let ok = Command::new("sh").args(["-c", script]).status().unwrap().success();
            assert!(ok, "{script}");
        };
        sh(&format!("ip netns add {netns}"));
        let mut remote = RemoteHost { octet: third_octet, netns: netns.clone(), link: link.clone(), server: Command::new("true").spawn().unwrap() };
        sh(&format!(
            "ip link add {link} type veth peer name eth0 netns {netns} && ip addr add {host_ip} dev {link} && ip link set {link} up && \
             ip -n {netns} addr add {remote_ip} dev eth0 && ip -n {netns} link set eth0 up && ip -n {netns} link set lo up && \
             ip addr add fd99:{third_octet:x}::1/64 dev {link} nodad && ip -n {netns} addr add fd99:{third_octet:x}::2/64 dev eth0 nodad"
        ));
        // Dual stack: IPv4 clients show as ::ffff:10.250.X.1.
        let server = "import socket\ns = socket.socket(socket.AF_INET6)\ns.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('::', 9000))\ns.listen()\nprint('ready', flush=True)\nwhile True:\n    c, peer = s.accept()\n    print(peer[0], flush=True)\n    c.sendall(b'hello from remote\\n')\n    c.close()\n";
        remote.server = Command::new("ip").args(["netns", "exec", &netns, "python3", "-c", server]).stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut line = [0u8; 6];
        remote.server.stdout.as_mut().unwrap().read_exact(&mut line).unwrap();
        remote
    }

    /// The remote's address (10.250.<octet>.2).
    pub fn ip(&self) -> String {
        format!("10.250.{}.2", self.octet)
    }

    /// The remote's IPv6 address (fd99:<octet>::2); the host's end is ::1.
    pub fn ip6(&self) -> String {
        format!("fd99:{:x}::2", self.octet)
    }

    /// A command run inside the remote's network namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, program]);
        c
    }

    /// The addresses that connected, in order (stops the server); IPv4 ones plain.
    pub fn peers(&mut self) -> String {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let mut out = String::new();
        self.server.stdout.as_mut().unwrap().read_to_string(&mut out).unwrap();
        out.lines().map(|l| format!("{}\n", l.strip_prefix("::ffff:").unwrap_or(l))).collect()
    }
}

impl Drop for RemoteHost {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = Command::new("ip").args(["link", "delete", &self.link]).status();
        let _ = Command::new("ip").args(["netns", "delete", &self.netns]).status();
    }
}

/// Runs rde somewhere: as root with a private store, or as a rootless user.
pub trait Rde {
    fn run(&self, args: &[&str]) -> Run;
    fn spawn(&self, args: &[&str]) -> std::process::Child;
}

impl Rde for Env {
    fn run(&self, args: &[&str]) -> Run {
        Env::run(self, args)
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).spawn().unwrap()
    }
}

/// A copy of examples/django-postgres in `dir` (the test edits its files).
pub fn copy_example(dir: &Path) -> PathBuf {
    let project = dir.join("django-postgres");
    let status = Command::new("cp").arg("-r").arg(repo_root().join("examples/django-postgres")).arg(&project).status().unwrap();
    assert!(status.success());
    project
}

fn psql_count(db_port: u16) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &db_port.to_string(), "-U", "sampleuser", "-d", "sampledb", "-tAc", "select count(*) from django_migrations"])
        .env("PGPASSWORD", "samplesecret")
        .output()
        .unwrap();
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The seeds' workflow on the example project, exactly as a user runs it.
/// `rde` runs in the project directory with WEB_PORT and DB_PORT set; `store`
/// is its RDE_ROOT.
pub fn django_postgres_workflow(rde: &dyn Rde, project: &Path, web_port: u16, db_port: u16, store: &Path) {
    let ok = |args: &[&str]| {
        let r = rde.run(args);
        assert_eq!(r.code, 0, "rde {}:\n{}{}", args.join(" "), r.stdout, r.stderr);
        r
    };
    let out = ok(&["up", "-d"]);
    assert!(out.stderr.contains("Container django-postgres-db-1  Healthy"), "{}", out.stderr);
    let out = ok(&["exec", "-T", "web", "python", "manage.py", "migrate"]);
    assert!(out.stdout.contains("Applying auth.0001_initial... OK"), "{}", out.stdout);
    let web: SocketAddr = format!("127.0.0.1:{web_port}").parse().unwrap();
    let page = http_get(web, "/").unwrap();
    assert!(page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.0 200"), "{page}");
    let migrations = psql_count(db_port);
    assert!(page.contains(&format!("Hello from Django: {migrations} migrations applied")), "{page}");
    assert!(migrations.parse::<u32>().unwrap() > 0);
    // `logs -f` streams while the dev server reloads an edited file.
    let follower = rde.spawn(&["logs", "-f", "web"]);
    let views = project.join("mysite/views.py");
    let text = std::fs::read_to_string(&views).unwrap();
    std::fs::write(&views, text.replace("Hello from Django", "Hello again")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http_get(web, "/").unwrap_or_default().contains("Hello again") {
        assert!(Instant::now() < deadline, "the dev server did not reload the edited view");
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(500));
    // Its own process group (spawn makes one): rde under runuser stops too.
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(follower.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let streamed = follower.wait_with_output().unwrap();
    let streamed = String::from_utf8_lossy(&streamed.stdout);
    assert!(streamed.contains("web-1 | ") && streamed.contains("\"GET / HTTP/1.0\" 200"), "{streamed}");
    assert!(streamed.contains("changed, reloading"), "{streamed}");
    let ps = ok(&["ps", "--format", "json"]).stdout;
    assert_eq!(ps.lines().count(), 2, "{ps}");
    assert!(ps.contains("\"Health\":\"healthy\""), "{ps}");
    // down keeps the data, up brings it back.
    ok(&["down"]);
    assert!(TcpStream::connect(web).is_err());
    ok(&["up", "-d"]);
    assert_eq!(psql_count(db_port), migrations);
    // down -v leaves nothing.
    let out = ok(&["down", "-v"]);
    assert!(out.stderr.contains("Volume django-postgres_pgdata  Removed"), "{}", out.stderr);
    assert!(list(&store.join("containers-v1")).is_empty(), "{:?}", list(&store.join("containers-v1")));
    assert!(list(&store.join("volumes-v1")).is_empty(), "{:?}", list(&store.join("volumes-v1")));
    assert!(mounts_under(store).is_empty());
}

/// The seeds publish fixed host ports (8000, 5432): their workflows in one test
/// binary take this lock so that they run one after the other.
pub fn seed_ports() -> std::sync::MutexGuard<'static, ()> {
    static PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A copy of examples/djangosample (the first seed's project) in `dir`.
pub fn copy_djangosample(dir: &Path) -> PathBuf {
    let project = dir.join("djangosample");
    let status = Command::new("cp").arg("-r").arg(repo_root().join("examples/djangosample")).arg(&project).status().unwrap();
    assert!(status.success());
    project
}

/// The first seed's workflow on its own project, as its users run it: `up -d`
/// builds their Dockerfile, `exec` makemigrations and migrate, the page
/// answers after `stop`/`start` (the seed's advice), `up -d --build` after a
/// requirements change rebuilds from that step and recreates only `django`,
/// a second one does nothing, `down --volume` leaves nothing. Port 8000 is the
/// seed's own. `store` is the RDE_ROOT.
pub fn djangosample_workflow(rde: &dyn Rde, project: &Path, store: &Path) {
    let _ports = seed_ports();
    let ok = |args: &[&str]| {
        let r = rde.run(args);
        assert_eq!(r.code, 0, "rde {}:\n{}{}", args.join(" "), r.stdout, r.stderr);
        r
    };
    let out = ok(&["up", "-d"]);
    assert!(out.stderr.contains("Image djangosample-django  Built"), "{}", out.stderr);
    assert!(out.stderr.contains("Container djangosample-django-1  Started"), "{}", out.stderr);
    // The seed's rough edge, as under docker: ADD from a URL gives 0600, bash goes on.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !rde.run(&["logs", "django"]).stdout.contains("/wait-for-it.sh: Permission denied") {
        assert!(Instant::now() < deadline, "{}", rde.run(&["logs", "django"]).stdout);
        std::thread::sleep(Duration::from_millis(200));
    }
    // The database may still be initialising: exec retries as a user would.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = rde.run(&["exec", "-T", "django", "./manage.py", "migrate"]);
        if r.code == 0 {
            assert!(r.stdout.contains("Applying auth.0001_initial... OK"), "{}", r.stdout);
            break;
        }
        assert!(Instant::now() < deadline, "migrate never succeeded:\n{}{}", r.stdout, r.stderr);
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = ok(&["exec", "-T", "django", "./manage.py", "makemigrations"]);
    assert!(out.stdout.contains("No changes detected"), "{}", out.stdout);
    ok(&["stop"]);
    ok(&["start"]);
    let web: SocketAddr = "127.0.0.1:8000".parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let page = loop {
        let page = http_get(web, "/").unwrap_or_default();
        if page.contains("migrations applied") {
            break page;
        }
        assert!(Instant::now() < deadline, "the page never answered: {page}\n{}", rde.run(&["logs", "django"]).stdout);
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(page.contains("Hello from Django: ") && !page.contains(": 0 migrations"), "{page}");
    let ps = ok(&["ps", "--format", "json"]).stdout;
    assert_eq!(ps.lines().count(), 2, "{ps}");
    assert!(ok(&["logs", "django"]).stdout.contains("\"GET / HTTP/1.0\" 200"));
    // A requirements change: the build starts again at that step; only django is recreated.
    let reqs = project.join("requirements.txt");
    let text = std::fs::read_to_string(&reqs).unwrap();
    std::fs::write(&reqs, format!("{text}six==1.17.0\n")).unwrap();
    let out = ok(&["up", "-d", "--build"]);
    let steps: Vec<&str> = out.stderr.lines().filter(|l| l.contains(" DONE ") || l.contains(" CACHED")).collect();
    assert!(out.stderr.contains("RUN apt-get update") && steps.iter().filter(|l| l.contains("CACHED")).count() >= 3, "{}", out.stderr);
    assert!(out.stderr.contains("Container djangosample-django-1  Recreated"), "{}", out.stderr);
    assert!(!out.stderr.contains("djangosample-db-1  Recreated"), "{}", out.stderr);
    let out = ok(&["exec", "-T", "django", "python", "-c", "import six; print(six.__version__)"]);
    assert_eq!(out.stdout.trim(), "1.17.0");
    // Nothing changed: nothing is built or recreated.
    let out = ok(&["up", "-d", "--build"]);
    assert!(!out.stderr.contains(" DONE ") && !out.stderr.contains("Recreated"), "{}", out.stderr);
    // As the seed writes it (docker-compose v1 took `--volume` for `--volumes`).
    let out = ok(&["down", "--volume"]);
    assert!(out.stderr.contains("Volume djangosample_django_sample_db_dev  Removed"), "{}", out.stderr);
    assert!(list(&store.join("containers-v1")).is_empty(), "{:?}", list(&store.join("containers-v1")));
    assert!(mounts_under(store).is_empty());
}

/// A copy of examples/pop_planner (the second seed's project) in `dir`.
pub fn copy_pop_planner(dir: &Path) -> PathBuf {
    let project = dir.join("pop_planner");
    let status = Command::new("cp").arg("-r").arg(repo_root().join("examples/pop_planner")).arg(&project).status().unwrap();
    assert!(status.success());
    project
}

/// The second seed's workflow: `up -d --build` (their Dockerfile.backend: gcc,
/// libpq-dev, curl from apt; pip; COPY backend/), the page fails with the seed's
/// `relation "django_session" does not exist` until `exec django python manage.py
/// migrate`, then `collectstatic --noinput` fills ./backend/staticfiles and the
/// page's CSS is served from STATIC_ROOT by gunicorn. Ports 8000 and 5432 are the seed's.
pub fn pop_planner_workflow(rde: &dyn Rde, project: &Path, store: &Path) {
    let _ports = seed_ports();
    let ok = |args: &[&str]| {
        let r = rde.run(args);
        assert_eq!(r.code, 0, "rde {}:\n{}{}", args.join(" "), r.stdout, r.stderr);
        r
    };
    let out = ok(&["up", "-d", "--build"]);
    assert!(out.stderr.contains("Image pop_planner-django  Built"), "{}", out.stderr);
    let web: SocketAddr = "127.0.0.1:8000".parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = http_get(web, "/").unwrap_or_default();
        if page.contains("django_session") {
            break;
        }
        assert!(Instant::now() < deadline, "expected the seed's missing-table error, got: {page}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = rde.run(&["exec", "-T", "django", "python", "manage.py", "migrate"]);
        if r.code == 0 {
            assert!(r.stdout.contains("Applying sessions.0001_initial... OK"), "{}", r.stdout);
            break;
        }
        assert!(Instant::now() < deadline, "migrate never succeeded:\n{}{}", r.stdout, r.stderr);
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = ok(&["exec", "-T", "django", "python", "manage.py", "collectstatic", "--noinput"]);
    assert!(out.stdout.contains("static files copied to '/app/staticfiles'"), "{}", out.stdout);
    assert!(project.join("backend/staticfiles/css/site.css").is_file() && project.join("backend/staticfiles/admin").is_dir());
    let page = http_get(web, "/").unwrap();
    assert!(page.contains("<h1 class=\"title\">Pop Planner</h1>") && page.contains("href=\"/static/css/site.css\""), "{page}");
    let css = http_get(web, "/static/css/site.css").unwrap();
    assert!(css.contains(" 200 ") && css.contains("served from STATIC_ROOT"), "{css}");
    let ps = ok(&["ps", "--format", "json"]).stdout;
    assert_eq!(ps.lines().filter(|l| l.contains("\"State\":\"running\"")).count(), 2, "{ps}");
    ok(&["down", "-v"]);
    assert!(list(&store.join("containers-v1")).is_empty(), "{:?}", list(&store.join("containers-v1")));
    assert!(mounts_under(store).is_empty());
}

/// A podman of the test's own: its own root (vfs: no mounts to leak), removed with the temp dir.
pub struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    pub fn new() -> Podman {
        Podman { dir: tempfile::Builder::new().prefix("rde-podman-").tempdir().unwrap() }
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("podman")
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(["--storage-driver", "vfs", "--tmpdir"])
            .arg(self.dir.path())
            .args(args)
            .output()
            .expect("podman");
        assert!(out.status.success(), "podman {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn id(&self, image: &str) -> String {
        self.run(&["image", "inspect", "--format", "{{.ID}}", image])
    }
}
