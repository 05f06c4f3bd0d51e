//! rde's Dockerfile builder cross-checked against buildah (Debian's 1.28, `buildah bud --layers
//! --format docker`): the same Dockerfiles and contexts built by both, then the image configs
//! and the file trees compared.
//!
//! buildah keeps a private store (`--root`/`--runroot` under its own temp dir, `--storage-driver
//! vfs`, so nothing stays mounted) and runs RUN steps with runc (crun refuses this host's hybrid
//! cgroups). Its image reaches rde through the shared test registry (`buildah push`, `rde image
//! pull`); both images are then listed by running them with rde, so both trees are seen through
//! the same runtime: type, permission bits, owner, size and sha256 of every regular file, link
//! targets. Not compared: times, directory sizes and link counts (see `tree`).
//!
//! buildah is the reference, except where buildah 1.28 itself departs from BuildKit and docker:
//! those paths and values are left out, each with its reason (`Case::only_in_rde`,
//! `Case::only_in_buildah`, `field`, and the Dockerfiles' comments). Every other difference fails
//! the test, naming the field or path with rde's and buildah's values; a test reports all its
//! differences at once.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn require_root() {
    assert!(is_root(), "the buildah cross-check needs root; run it through scripts/test");
}

/// buildah with a private root, run root and TMPDIR, all removed on drop (also when the test fails).
struct Buildah {
    dir: tempfile::TempDir,
}

impl Buildah {
    fn new() -> Buildah {
        let version = Command::new("buildah").arg("--version").output();
        assert!(
            matches!(&version, Ok(o) if o.status.success()),
            "buildah is not installed: scripts/ci-deps installs it (and runc, which it runs RUN steps with)"
        );
        let dir = tempfile::Builder::new().prefix("rde-buildah-").tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        Buildah { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("runroot"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .env("TMPDIR", self.dir.path().join("tmp"))
            .stdin(Stdio::null());
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run buildah");
        assert!(out.status.success(), "buildah {} failed:\n{}{}", args.join(" "), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `buildah bud --layers` of `context` (its Dockerfile) as `tag`.
    fn bud(&self, context: &Path, tag: &str, network: &str, build_args: &[&str]) {
        let dockerfile = context.join("Dockerfile").display().to_string();
        let context = context.display().to_string();
        let mut args =
            vec!["bud", "--layers", "--format", "docker", "--tls-verify=false", "--runtime", "runc", "--network", network, "-t", tag, "-f", &dockerfile];
        for a in build_args {
            args.extend(["--build-arg", a]);
        }
        args.push(&context);
        self.ok(&args);
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        let _ = self.command(&["rm", "--all"]).output();
        let _ = self.command(&["rmi", "--all", "--force"]).output();
        for target in mounts_under(self.dir.path()) {
            let _ = Command::new("umount").args(["-l", &target]).status();
        }
    }
}

/// One Dockerfile built by both.
struct Case {
    name: &'static str,
    context: PathBuf,
    build_args: Vec<String>,
    /// buildah's `--network` for RUN steps (rde builds with its default network).
    buildah_network: &'static str,
    /// Paths rde's image has and buildah's lacks by design, with the reason.
    only_in_rde: Vec<(&'static str, &'static str)>,
    /// Paths buildah's image has and rde's lacks by design, with the reason.
    only_in_buildah: Vec<(&'static str, &'static str)>,
    /// Paths whose content no two builds share (logs, caches, byte code).
    unreproducible: fn(&str) -> bool,
}

/// Both images of a case, built, and buildah's pulled into rde's store.
struct Built {
    rde: String,
    buildah: String,
}

fn build_both(env: &Env, buildah: &Buildah, case: &Case) -> Built {
    let rde_tag = format!("rde-{}:latest", case.name);
    let context = case.context.display().to_string();
    let mut args = vec!["image", "build", "--progress", "plain", "-t", rde_tag.as_str()];
    for a in &case.build_args {
        args.extend(["--build-arg", a.as_str()]);
    }
    args.push(&context);
    env.ok(&args);

    let local = format!("buildah-{}", case.name);
    let build_args: Vec<&str> = case.build_args.iter().map(String::as_str).collect();
    buildah.bud(&case.context, &local, case.buildah_network, &build_args);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let pushed = format!("{}/test/buildah-{}-{}-{nanos}:latest", shared_registry(), case.name, std::process::id());
    buildah.ok(&["push", "--tls-verify=false", &local, &format!("docker://{pushed}")]);
    env.ok(&["image", "pull", "-q", &pushed]);
    Built { rde: rde_tag, buildah: pushed }
}

/// The image's config JSON as stored (the blob whose digest is the image id).
fn raw_config(env: &Env, image: &str) -> Value {
    let inspect: Value = serde_json::from_str(&env.ok(&["image", "inspect", image]).stdout).unwrap();
    let id = inspect[0]["Id"].as_str().unwrap_or_else(|| panic!("no Id in the inspect output of {image}: {inspect}"));
    let hex = id.strip_prefix("sha256:").unwrap();
    let bytes = std::fs::read(env.root().join("blobs-v1/sha256").join(hex)).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Objects with their keys sorted, for messages and comparison.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The config fields compared; empty values (null, "", [], {}) count as absent, as docker treats
/// them, and Env as a set.
const FIELDS: &[&str] =
    &["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels", "Healthcheck", "StopSignal", "Shell", "OnBuild"];

fn field(config: &Value, name: &str) -> Value {
    let mut v = config["config"].get(name).cloned().unwrap_or(Value::Null);
    if name == "Env"
        && let Some(list) = v.as_array_mut()
    {
        // buildah moves a variable an ENV sets again to the end (docker and BuildKit replace it in
        // place, as rde does); the order means nothing to a process, so it is not compared.
        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    if name == "Labels"
        && let Some(m) = v.as_object_mut()
    {
        // buildah stamps its version on every image it builds.
        m.remove("io.buildah.version");
    }
    let empty = match &v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    };
    if empty { Value::Null } else { sorted(&v) }
}

/// Config differences, one line each: field, rde's value, buildah's value.
fn config_differences(case: &Case, rde: &Value, buildah: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for name in FIELDS {
        let (a, b) = (field(rde, name), field(buildah, name));
        if a != b {
            out.push(format!("{}: config {name}: rde {a}, buildah {b}", case.name));
        }
    }
    out
}

/// Layers against history: buildah and BuildKit disagree on which steps make a layer
/// (buildah folds WORKDIR's mkdir into the next RUN; BuildKit and rde give WORKDIR a layer),
/// so this is reported, not asserted; each image must agree with itself.
fn report_history(case: &Case, which: &str, config: &Value) -> usize {
    let history = config["history"].as_array().map(Vec::as_slice).unwrap_or_default();
    let with_layer = history.iter().filter(|h| !h["empty_layer"].as_bool().unwrap_or(false)).count();
    let layers = config["rootfs"]["diff_ids"].as_array().map_or(0, Vec::len);
    eprintln!("{}: {which}: {} history entries, {with_layer} with a layer; {layers} layers", case.name, history.len());
    assert_eq!(with_layer, layers, "{}: {which}'s history does not match its layers", case.name);
    layers
}

/// Files rde bind-mounts into every container, whatever the image holds (buildah's RUN steps
/// also leave empty placeholders of them in its layers).
const RUNTIME_FILES: &[&str] = &["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

const LIST_SCRIPT: &str = "set -e
find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -exec stat -c '%n|%F|%a|%u:%g|%s|%N' {} +
echo '--sha256--'
find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type f -exec sha256sum {} +
";

/// The image's file tree, run by rde as root: path -> "type mode uid:gid [size sha256 | -> target]".
/// Directory sizes (the file system's) and link counts (buildah with vfs stores a RUN's hard
/// link as a copy) are left out; so are times.
fn tree(env: &Env, image: &str) -> BTreeMap<String, String> {
    let out = env.ok(&["container", "run", "--rm", "-u", "0", "--entrypoint", "sh", image, "-c", LIST_SCRIPT]).stdout;
    let (stats, sums) = out.split_once("--sha256--\n").unwrap_or_else(|| panic!("no listing from {image}:\n{out}"));
    let mut hashes = BTreeMap::new();
    for line in sums.lines() {
        let (hash, path) = line.split_once("  ").unwrap_or_else(|| panic!("bad sha256sum line {line:?}"));
        hashes.insert(path.to_string(), hash.to_string());
    }
    let mut tree = BTreeMap::new();
    for line in stats.lines() {
        let f: Vec<&str> = line.splitn(6, '|').collect();
        assert_eq!(f.len(), 6, "bad stat line {line:?}");
        let (path, kind, mode, owner, size, quoted) = (f[0], f[1], f[2], f[3], f[4], f[5]);
        let what = match kind {
            "directory" => format!("{kind} {mode} {owner}"),
            "symbolic link" => format!("{kind} {owner} -> {}", quoted.split_once(" -> ").map_or("?", |(_, t)| t.trim_matches(|c| c == '\'' || c == '"'))),
            k if k.starts_with("regular") => format!("file {mode} {owner} {size} {}", hashes.get(path).map_or("?", String::as_str)),
            _ => format!("{kind} {mode} {owner}"),
        };
        tree.insert(path.to_string(), what);
    }
    tree
}

/// File tree differences, one line each: path, rde's entry, buildah's entry.
fn tree_differences(case: &Case, rde: &BTreeMap<String, String>, buildah: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut paths: Vec<&String> = rde.keys().chain(buildah.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        if RUNTIME_FILES.contains(&path.as_str()) || (case.unreproducible)(path) {
            continue;
        }
        match (rde.get(path), buildah.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(_), None) if case.only_in_rde.iter().any(|(p, _)| p == path) => {}
            (None, Some(_)) if case.only_in_buildah.iter().any(|(p, _)| p == path) => {}
            (a, b) => {
                out.push(format!("{}: {path}: rde {}, buildah {}", case.name, a.map_or("<missing>", String::as_str), b.map_or("<missing>", String::as_str)))
            }
        }
    }
    out
}

/// Build a case with both and compare: the images and every difference found.
fn cross_check(env: &Env, case: &Case) -> (Built, Vec<String>) {
    let buildah = Buildah::new();
    let built = build_both(env, &buildah, case);
    let (rde_config, buildah_config) = (raw_config(env, &built.rde), raw_config(env, &built.buildah));
    let mut differences = config_differences(case, &rde_config, &buildah_config);
    let rde_layers = report_history(case, "rde", &rde_config);
    let buildah_layers = report_history(case, "buildah", &buildah_config);
    if rde_layers != buildah_layers {
        eprintln!("{}: layer counts differ (rde {rde_layers}, buildah {buildah_layers}): by design when WORKDIR makes a directory", case.name);
    }
    differences.extend(tree_differences(case, &tree(env, &built.rde), &tree(env, &built.buildah)));
    env.assert_store_consistent();
    (built, differences)
}

fn assert_no_differences(differences: &[String]) {
    assert!(differences.is_empty(), "rde's build differs from buildah's:\n{}", differences.join("\n"));
}

fn nothing_unreproducible(_: &str) -> bool {
    false
}

fn write(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Metadata instructions in their several forms, ARG scoping with --build-arg, a relative
/// WORKDIR chain, SHELL for a later RUN, CMD set before ENTRYPOINT in the same stage.
#[test]
fn metadata_instructions_match_buildah() {
    require_root();
    let env = Env::new();
    let context = env.dir.path().join("ctx-meta");
    // Shell-form CMD/ENTRYPOINT come before SHELL: buildah builds them with /bin/sh -c whatever
    // SHELL says (openshift/imagebuilder#154), docker and BuildKit with SHELL.
    let dockerfile = format!(
        r#"ARG REG={registry}
ARG GLOBAL=from-global
FROM ${{REG}}/library/busybox
ARG VERSION=0.0
ARG FLAVOR
ARG LEVEL=3
ARG GLOBAL
ENV A=1 B="two words" C=three\ words
ENV D ${{VERSION}} and more
ENV E=$A-${{B}}-${{FLAVOR:-none}} F=${{VERSION:+set}} G=\$A H='$A' I=${{LEVEL}}
ENV A=override PATH=/opt/bin:$PATH
LABEL com.example.version=$VERSION "com.example.desc"="a b" \
      multi=1 empty=""
LABEL org.opencontainers.image.version=overridden
EXPOSE 80 443/tcp 53/udp
EXPOSE 8080
VOLUME /data
VOLUME ["/cache", "/logs"]
WORKDIR app
WORKDIR sub
WORKDIR ../rel
RUN echo "[$REG][$GLOBAL][$VERSION][$FLAVOR][$LEVEL][$A][$E][$G][$H]" > argvals && pwd > pwd.txt \
    && env | grep -v '^HOSTNAME=' | sort > env.txt
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=4 CMD wget -q -O- http://localhost/ || exit 1
STOPSIGNAL SIGUSR1
CMD ["echo", "hi"]
ENTRYPOINT echo entry
SHELL ["/usr/bin/env", "SHELLMARK=custom-shell", "/bin/sh", "-c"]
RUN echo "$SHELLMARK" > shellmark
USER app:app
"#,
        registry = shared_registry()
    );
    write(&context.join("Dockerfile"), &dockerfile, 0o644);
    let case = Case {
        name: "meta",
        context,
        build_args: vec!["VERSION=1.2.3".into(), "FLAVOR=mint".into(), "GLOBAL=cli".into()],
        buildah_network: "none",
        only_in_rde: vec![("/app/sub", "an intermediate WORKDIR: BuildKit and docker make every WORKDIR; buildah only the one a RUN uses")],
        only_in_buildah: vec![
            ("/data", "buildah makes VOLUME mount points in the image; BuildKit leaves VOLUME to the config"),
            ("/cache", "as /data"),
            ("/logs", "as /data"),
            ("/run", "buildah leaves the mount point of its RUN steps' /run"),
        ],
        unreproducible: nothing_unreproducible,
    };
    let (built, differences) = cross_check(&env, &case);
    // What the RUN steps saw, spelled out (also part of the tree comparison).
    let out = env.ok(&["container", "run", "--rm", "--entrypoint", "cat", &built.rde, "/app/rel/argvals", "/app/rel/pwd.txt", "/app/rel/shellmark"]);
    assert_eq!(out.stdout, "[][cli][1.2.3][mint][3][override][1-two words-mint][$A][$A]\n/app/rel\ncustom-shell\n");
    assert_no_differences(&differences);
}

/// COPY (--chown, --chmod, a directory, a wildcard, a symlink to a file and to a directory, the
/// whole context through .dockerignore),
/// ADD of a local .tar.gz, COPY --from a stage by name and by index, and RUN steps that delete
/// files of the base image and of earlier layers (whiteouts), replace a directory (opaque),
/// turn a file into a directory and a directory into a symlink.
#[test]
fn copy_add_and_whiteouts_match_buildah() {
    require_root();
    let env = Env::new();
    let c = env.dir.path().join("ctx-files");
    write(&c.join("src/a.txt"), "alpha\n", 0o644);
    write(&c.join("src/sub/b.txt"), "beta\n", 0o644);
    write(&c.join("src/sub/c.tmp"), "tmp\n", 0o644);
    write(&c.join("src/run.sh"), "exec\n", 0o755);
    chmod(&c.join("src/sub"), 0o700);
    write(&c.join("conf/app.conf"), "k=v\n", 0o644);
    write(&c.join("conf/secret.conf"), "pw\n", 0o600);
    write(&c.join("scripts/one.sh"), "#!/bin/sh\necho one\n", 0o644);
    write(&c.join("scripts/two.sh"), "#!/bin/sh\necho two\n", 0o644);
    write(&c.join("scripts/notes.txt"), "notes\n", 0o644);
    write(&c.join("secret/key"), "key\n", 0o644);
    write(&c.join("debug.log"), "log\n", 0o644);
    write(&c.join("keep.log"), "keep\n", 0o644);
    write(&c.join("top.txt"), "top\n", 0o644);
    std::os::unix::fs::symlink("top.txt", c.join("toplink")).unwrap();
    std::os::unix::fs::symlink("src", c.join("srclink")).unwrap();
    write(&c.join("plain.txt"), "plain\n", 0o644);
    write(&c.join(".dockerignore"), "*.log\n!keep.log\nsecret\n**/*.tmp\n", 0o644);
    // The archive ADD unpacks: owned by 1234:4321, a 0750 directory, a symlink.
    let tarsrc = env.dir.path().join("tarsrc");
    write(&tarsrc.join("pkg/data.txt"), "data\n", 0o644);
    write(&tarsrc.join("pkg/bin/tool"), "#!/bin/sh\n", 0o755);
    std::os::unix::fs::symlink("data.txt", tarsrc.join("pkg/link")).unwrap();
    chmod(&tarsrc.join("pkg"), 0o750);
    let status = Command::new("tar")
        .args(["--owner=1234", "--group=4321", "--numeric-owner", "-czf"])
        .arg(c.join("vendor.tar.gz"))
        .arg("-C")
        .arg(&tarsrc)
        .arg("pkg")
        .status()
        .unwrap();
    assert!(status.success());
    let dockerfile = format!(
        r#"FROM {registry}/library/busybox AS builder
WORKDIR /build
COPY src/ ./src/
RUN mkdir out && cd src && for f in a.txt sub/b.txt; do sha256sum "$f" >> ../out/sums; done \
    && echo built > ../out/marker && chmod 0640 ../out/marker && ln -s marker ../out/link

FROM {registry}/library/busybox
COPY --chown=app:app conf/app.conf /etc/app/
COPY --chown=1000:1000 --chmod=0640 conf/secret.conf /etc/app/secret.conf
COPY --chmod=755 scripts/*.sh /usr/local/bin/
COPY src /app/src
COPY --chown=app:app src /app/owned/
COPY srclink /app/via-symlink/
COPY toplink /usr/local
COPY . /ctx/
ADD vendor.tar.gz /opt/vendor/
ADD plain.txt /opt/
COPY --from=builder /build/out /app/out
COPY --from=builder --chown=app /build/out/marker /app/marker2
COPY --from=0 /build/src/a.txt /app/from-index.txt
RUN rm /etc/nsswitch.conf /usr/sbin/httpd && mkdir -p /data/keep && echo one > /data/keep/a && echo two > /data/tmp && rm /data/tmp
RUN rm -rf /home/app && mkdir -p /home/app/new && echo new > /home/app/new/file && chown -R 1000:1000 /home/app
RUN ln /app/src/a.txt /app/hard && ln -s /app/src /app/srclink && mkdir -m 1777 /var/spool/x && mkfifo /var/spool/x/fifo \
    && chmod 4755 /usr/local/bin/one.sh
RUN echo x > /root/.profile && chown 1000:1000 /root/.profile && chmod 600 /root/.profile && rm -r /ctx/src/sub \
    && rm /opt/plain.txt && mkdir /opt/plain.txt && echo inner > /opt/plain.txt/inner \
    && rm -rf /ctx/scripts && ln -s ../app /ctx/scripts
HEALTHCHECK --interval=1m30s CMD ["/bin/true"]
ENTRYPOINT ["/bin/sh", "-c", "exec \"$@\"", "entry"]
"#,
        registry = shared_registry()
    );
    write(&c.join("Dockerfile"), &dockerfile, 0o644);
    let case = Case {
        name: "files",
        context: c,
        build_args: Vec::new(),
        buildah_network: "none",
        only_in_rde: Vec::new(),
        only_in_buildah: vec![("/run", "buildah leaves the mount point of its RUN steps' /run")],
        unreproducible: nothing_unreproducible,
    };
    let (built, mut differences) = cross_check(&env, &case);
    // Not comparable with buildah+vfs (its layer diff misses the first name of a new hard
    // link, so the link becomes a copy): rde, like BuildKit on overlay, keeps the link.
    let out = env.ok(&["container", "run", "--rm", &built.rde, "stat", "-c", "%i %h", "/app/hard", "/app/src/a.txt"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    if !(lines.len() == 2 && lines[0] == lines[1] && lines[0].ends_with(" 2")) {
        differences.push(format!("files: RUN's hard link /app/hard -> /app/src/a.txt was not kept (inode, links): {lines:?}"));
    }
    assert_no_differences(&differences);
}

/// apt and pip, from the test mirror, on the python base.
#[test]
fn apt_and_pip_on_python_match_buildah() {
    require_root();
    let mirror = std::env::var("RDE_TEST_MIRROR")
        .expect("RDE_TEST_MIRROR is not set: run the tests through scripts/test, which starts the package mirror library/python:3.11 installs from");
    let env = Env::new();
    let context = env.dir.path().join("ctx-python");
    let dockerfile = format!("FROM {}/library/python:3.11\nRUN apt-get update && apt-get -y install libpq-dev\nRUN pip install six\n", shared_registry());
    write(&context.join("Dockerfile"), &dockerfile, 0o644);
    /// What apt, dpkg, ldconfig and python write differently on every run.
    fn unreproducible(path: &str) -> bool {
        const PREFIXES: &[&str] =
            &["/var/log/", "/var/cache/apt/", "/var/cache/debconf/", "/var/cache/ldconfig/", "/var/lib/apt/lists/", "/root/.cache/", "/tmp/", "/var/tmp/"];
        const FILES: &[&str] = &["/var/lib/dpkg/status-old", "/var/lib/dpkg/diversions-old", "/var/lib/dpkg/statoverride-old", "/etc/ld.so.cache"];
        PREFIXES.iter().any(|p| path.starts_with(p)) || FILES.contains(&path) || path.ends_with(".pyc") || path.contains("/__pycache__")
    }
    let case = Case {
        name: "python",
        context,
        build_args: Vec::new(),
        // The host's network: RUN steps reach only the suite's mirror, an address on this host.
        buildah_network: "host",
        only_in_rde: Vec::new(),
        only_in_buildah: vec![("/run", "buildah leaves the mount point of its RUN steps' /run")],
        unreproducible,
    };
    let (built, differences) = cross_check(&env, &case);
    let out = env.ok(&[
        "container",
        "run",
        "--rm",
        &built.rde,
        "sh",
        "-c",
        "dpkg-query -W -f '${Status}' libpq-dev; echo; python3 -c 'import six; print(six.__version__)'",
    ]);
    assert!(out.stdout.starts_with("install ok installed\n"), "libpq-dev from {mirror}: {}", out.stdout);
    assert_eq!(out.stdout.lines().nth(1), Some("1.17.0"), "six from {mirror}: {}", out.stdout);
    assert_no_differences(&differences);
}
