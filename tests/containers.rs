//! Real containers through libcontainer, from the test images (rootful).

mod common;
use common::*;
use std::time::{Duration, Instant};

fn busybox() -> String {
    format!("{}/library/busybox", shared_registry())
}

fn require_root() {
    assert!(is_root(), "the container suite needs root; run it through scripts/test");
}

#[test]
fn exit_codes_pass_through() {
    require_root();
    let env = Env::new();
    let image = busybox();
    let code = |args: &[&str]| {
        let mut all = vec!["container", "run", "--rm", image.as_str()];
        all.extend_from_slice(args);
        env.run(&all)
    };
    assert_eq!(code(&["true"]).code, 0);
    assert_eq!(code(&["sh", "-c", "exit 3"]).code, 3);
    let out = code(&["no-such-command"]);
    assert_eq!(out.code, 127, "{}", out.stderr);
    assert!(out.stderr.contains("executable file not found"), "{}", out.stderr);
    let out = code(&["/etc/passwd"]);
    assert_eq!(out.code, 126, "{}", out.stderr);
    // Killed by a signal from outside: 128 + 9. (PID 1 ignores SIGKILL sent from inside its namespace.)
    env.ok(&["container", "run", "-d", "--name", "victim", &image, "sleep", "1000"]);
    env.ok(&["container", "kill", "victim"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env.ok(&["container", "ls", "-a"]).stdout.contains("Exited (137)") {
        assert!(Instant::now() < deadline, "{}", env.run(&["container", "ls", "-a"]).stdout);
        std::thread::sleep(Duration::from_millis(50));
    }
    env.ok(&["container", "rm", "victim"]);
    // --rm left nothing behind.
    assert!(list(&env.root().join("containers-v1")).is_empty(), "{:?}", list(&env.root().join("containers-v1")));
    assert!(mounts_under(env.dir.path()).is_empty());
}

#[test]
fn output_env_workdir_and_user() {
    require_root();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &busybox()]);
    let out = env.ok(&[
        "container",
        "run",
        "--rm",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp/work",
        "-u",
        "app",
        &busybox(),
        "sh",
        "-c",
        "echo $FOO; pwd; id -u; id -g; echo $HOME; echo oops >&2",
    ]);
    assert_eq!(out.stdout, "bar\n/tmp/work\n1000\n1000\n/home/app\n");
    assert_eq!(out.stderr, "oops\n");
    // Its own network namespace, with lo up.
    let out = env.ok(&["container", "run", "--rm", &busybox(), "cat", "/sys/class/net/lo/flags"]);
    assert_eq!(out.stdout.trim(), "0x9", "lo is UP|LOOPBACK");
    let out = env.fails(&["container", "run", "--rm", "-u", "nobody-here", &busybox(), "true"]);
    assert!(out.stderr.contains("unable to find user nobody-here"), "{}", out.stderr);
}

#[test]
fn bind_mounts_and_named_volumes() {
    require_root();
    let env = Env::new();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in.txt"), "from host").unwrap();
    let bind = format!("{}:/data", host.path().display());
    let out = env.ok(&["container", "run", "--rm", "-v", &bind, &busybox(), "sh", "-c", "cat /data/in.txt; echo hi > /data/out.txt"]);
    assert_eq!(out.stdout, "from host");
    assert_eq!(std::fs::read_to_string(host.path().join("out.txt")).unwrap(), "hi\n");
    let ro = format!("{}:/data:ro", host.path().display());
    let out = env.run(&["container", "run", "--rm", "-v", &ro, &busybox(), "sh", "-c", "echo x > /data/nope"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Read-only file system"), "{}", out.stderr);

    env.ok(&["container", "run", "--rm", "-v", "keep:/keep", &busybox(), "sh", "-c", "echo persisted > /keep/f"]);
    let out = env.ok(&["container", "run", "--rm", "-v", "keep:/keep", &busybox(), "cat", "/keep/f"]);
    assert_eq!(out.stdout, "persisted\n");
    let out = env.fails(&["container", "run", "--rm", "-v", "not a volume", &busybox(), "true"]);
    assert!(out.stderr.contains("invalid volume specification"), "{}", out.stderr);
}

#[test]
fn detached_logs_follow_and_stop_of_a_shell_pid1() {
    require_root();
    let env = Env::new();
    let id = env.ok(&["container", "run", "-d", "--name", "ticker", &busybox(), "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"]).stdout;
    assert_eq!(id.trim().len(), 64);
    let out = env.ok(&["container", "logs", "-f", "ticker"]);
    assert_eq!(out.stdout, "line1\nline2\nline3\n");
    let ls = env.ok(&["container", "ls", "-a"]);
    assert!(ls.stdout.contains("ticker") && ls.stdout.contains("Exited (0)"), "{}", ls.stdout);
    let tail = env.ok(&["container", "logs", "--tail", "1", "ticker"]);
    assert_eq!(tail.stdout, "line3\n");
    assert_eq!(env.ok(&["container", "logs", "--since", "10m", "ticker"]).stdout.lines().count(), 3);
    assert_eq!(env.ok(&["container", "logs", "--since", "2999-01-01T00:00:00Z", "ticker"]).stdout, "");
    let stamped = env.ok(&["container", "logs", "-t", "ticker"]).stdout;
    assert!(stamped.lines().all(|l| l.len() > 31 && l.as_bytes()[4] == b'-'), "{stamped}");

    // A shell as PID 1 ignores SIGTERM: stop waits the grace period, then kills.
    env.ok(&["container", "run", "-d", "--name", "stubborn", &busybox(), "sh", "-c", "while true; do sleep 1; done"]);
    let ls = env.ok(&["container", "ls"]);
    assert!(ls.stdout.contains("stubborn") && ls.stdout.contains("Up"), "{}", ls.stdout);
    let started = Instant::now();
    env.ok(&["container", "stop", "-t", "1", "stubborn"]);
    assert!(started.elapsed() >= Duration::from_millis(900));
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["container", "inspect", "stubborn"]).stdout).unwrap();
    assert_eq!(v[0]["State"]["ExitCode"], 137, "{v}");
    env.ok(&["container", "rm", "ticker", "stubborn"]);
    assert!(mounts_under(env.dir.path()).is_empty());
}

#[test]
fn the_container_outlives_a_killed_cli_and_shim() {
    require_root();
    let env = Env::new();
    // kill -9 of a foreground CLI: the container keeps running under its shim.
    let mut cli = env
        .command(&["container", "run", "--name", "survivor", &busybox(), "sh", "-c", "echo up; sleep 1000"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !env.run(&["container", "ls"]).stdout.contains("survivor") {
        assert!(Instant::now() < deadline, "the container never showed up");
        std::thread::sleep(Duration::from_millis(50));
    }
    cli.kill().unwrap();
    cli.wait().unwrap();
    assert!(env.ok(&["container", "ls"]).stdout.contains("Up"));
    assert_eq!(env.ok(&["container", "logs", "survivor"]).stdout, "up\n");
    env.ok(&["container", "stop", "-t", "1", "survivor"]);
    assert!(env.ok(&["container", "ls", "-a"]).stdout.contains("Exited (137)"));

    // kill -9 of the shim: ls says so, rm -f still cleans everything.
    env.ok(&["container", "run", "-d", "--name", "orphan", &busybox(), "sleep", "1000"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["container", "inspect", "orphan"]).stdout).unwrap();
    let id = v[0]["Id"].as_str().unwrap().to_string();
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(env.root().join("containers-v1").join(&id).join("state.json")).unwrap()).unwrap();
    let shim = state["shim_pid"].as_i64().unwrap() as i32;
    let init = state["pid"].as_i64().unwrap() as i32;
    rustix::process::kill_process(rustix::process::Pid::from_raw(shim).unwrap(), rustix::process::Signal::KILL).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(env.ok(&["container", "ls"]).stdout.contains("Unknown"));
    env.ok(&["container", "rm", "-f", "orphan", "survivor"]);
    assert!(!std::path::Path::new(&format!("/proc/{init}")).exists() || std::fs::read_to_string(format!("/proc/{init}/stat")).unwrap().contains(") Z"));
    assert!(list(&env.root().join("containers-v1")).is_empty());
    assert!(mounts_under(env.dir.path()).is_empty());
}

#[test]
fn bad_input_leaves_nothing() {
    require_root();
    let env = Env::new();
    let out = env.fails(&["container", "run", "--rm", &format!("{}:no-such-tag", busybox()), "true"]);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
    env.ok(&["container", "run", "-d", "--name", "taken", &busybox(), "true"]);
    let out = env.fails(&["container", "run", "--name", "taken", &busybox(), "true"]);
    assert!(out.stderr.contains("already in use"), "{}", out.stderr);
    let out = env.fails(&["container", "logs", "no-such-container"]);
    assert!(out.stderr.contains("no such container"), "{}", out.stderr);
    env.ok(&["container", "rm", "-f", "taken"]);
    assert!(list(&env.root().join("containers-v1")).is_empty());
}

#[test]
fn init_runs_as_pid_1_and_forwards_signals() {
    require_root();
    let env = Env::new();
    let out = env.ok(&["container", "run", "--rm", "--init", &busybox(), "sh", "-c", "cat /proc/1/comm; echo $$"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "docker-init");
    assert_ne!(lines[1], "1", "the command is not PID 1 under --init");
    // With an init, SIGTERM reaches the shell, which then exits at once.
    env.ok(&["container", "run", "-d", "--init", "--name", "term", &busybox(), "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]);
    let started = Instant::now();
    env.ok(&["container", "stop", "-t", "20", "term"]);
    assert!(started.elapsed() < Duration::from_secs(10), "stop waited for the grace period");
    env.ok(&["container", "rm", "term"]);
}

#[test]
fn exec_joins_the_container() {
    require_root();
    let env = Env::new();
    env.ok(&["container", "run", "-d", "--name", "box", "-e", "FROM_RUN=1", "-w", "/tmp", &busybox(), "sleep", "1000"]);
    let out = env.run(&["container", "exec", "box", "sh", "-c", "echo $FROM_RUN; pwd; cat /etc/hostname >/dev/null; exit 4"]);
    assert_eq!((out.code, out.stdout.as_str()), (4, "1\n/tmp\n"), "{}", out.stderr);
    let out = env.ok(&["container", "exec", "-u", "app", "-w", "/", "-e", "X=y", "box", "sh", "-c", "id -u; pwd; echo $X"]);
    assert_eq!(out.stdout, "1000\n/\ny\n");
    // The same processes: exec sees the container's PID 1.
    let out = env.ok(&["container", "exec", "box", "cat", "/proc/1/cmdline"]);
    assert_eq!(out.stdout, "sleep\u{0}1000\u{0}");
    let out = env.run(&["container", "exec", "box", "no-such-command"]);
    assert_eq!(out.code, 127, "{}", out.stderr);
    // Standard input only with -i.
    let mut child =
        env.command(&["container", "exec", "-i", "box", "cat"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"through stdin\n").unwrap();
    assert_eq!(String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout), "through stdin\n");
    assert_eq!(env.ok(&["container", "exec", "box", "cat"]).stdout, "");
    // -t: a real terminal (script(1) gives us one) and TERM. (The size reaches an
    // exec'd process only after it started: `run -it` checks sizes.)
    let rde = env!("CARGO_BIN_EXE_rde");
    let script = format!("{rde} container exec -it box sh -c 'tty; echo $TERM; exit 5'");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &script, "/dev/null"]);
    for (k, v) in env.command(&[]).get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("/dev/pts/") && text.contains("xterm"), "{text}");
    env.ok(&["container", "stop", "-t", "1", "box"]);
    let out = env.run(&["container", "exec", "box", "true"]);
    assert!(out.code != 0 && out.stderr.contains("not running"), "{}", out.stderr);
}

#[test]
fn postgres_initialises_its_volume_and_accepts_connections() {
    require_root();
    let env = Env::new();
    let image = format!("{}/library/postgres:15", shared_registry());
    env.ok(&[
        "container",
        "run",
        "-d",
        "--name",
        "db",
        "-e",
        "POSTGRES_PASSWORD=secret",
        "-e",
        "POSTGRES_USER=app",
        "-e",
        "POSTGRES_DB=appdb",
        "-v",
        "pgdata:/var/lib/postgresql/data",
        &image,
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = env.run(&["container", "exec", "db", "psql", "-U", "app", "-d", "appdb", "-tAc", "select 40 + 2"]);
        if out.code == 0 && out.stdout.trim() == "42" {
            break;
        }
        assert!(Instant::now() < deadline, "postgres never answered: {}{}", out.stdout, out.stderr);
        std::thread::sleep(Duration::from_millis(200));
    }
    // The data directory in the named volume belongs to user postgres, as initdb requires.
    use std::os::unix::fs::MetadataExt;
    let data = env.root().join("volumes-v1/pgdata/_data");
    let meta = std::fs::metadata(&data).unwrap();
    let passwd = env.ok(&["container", "exec", "db", "id", "-u", "postgres"]).stdout;
    assert_eq!(meta.uid().to_string(), passwd.trim());
    assert!(data.join("PG_VERSION").is_file());
    // SIGINT (the image's stop signal) shuts postgres down cleanly (its shutdown
    // checkpoint can take seconds on a busy disk, hence a generous grace period).
    env.ok(&["container", "stop", "-t", "60", "db"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["container", "inspect", "db"]).stdout).unwrap();
    assert_eq!(v[0]["State"]["ExitCode"], 0, "{v}");
    // The volume outlives the container.
    env.ok(&["container", "rm", "db"]);
    assert!(data.join("PG_VERSION").is_file());
}

#[test]
fn run_interactive_and_with_a_terminal() {
    require_root();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &busybox()]);
    // -i: our stdin reaches the container, its end closes the container's stdin.
    let mut child = env
        .command(&["container", "run", "-i", "--rm", &busybox(), "sh", "-c", "cat; echo done"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"piped in\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped in\ndone\n");
    assert!(out.status.success());
    // -t: a real terminal with our size; the exit code and every byte arrive even
    // when the command is over at once.
    let rde = env!("CARGO_BIN_EXE_rde");
    let script = format!("stty rows 30 cols 100; {rde} container run -it --rm {} sh -c 'tty; stty size; exit 6'", busybox());
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &script, "/dev/null"]).stdin(std::process::Stdio::null());
    for (k, v) in env.command(&[]).get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(6), "{text}");
    assert!(text.contains("/dev/pts/0") && text.contains("30 100"), "{text}");
    assert!(list(&env.root().join("containers-v1")).is_empty());
    // -d -t: the container still gets a terminal; its output goes to the log.
    env.ok(&["container", "run", "-d", "-t", "--name", "dt", &busybox(), "sh", "-c", "tty"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env.ok(&["container", "ls", "-a"]).stdout.contains("Exited (0)") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(env.ok(&["container", "logs", "dt"]).stdout.starts_with("/dev/pts/0"));
    env.ok(&["container", "rm", "dt"]);
}

#[test]
fn limits_capabilities_read_only_and_env_files() {
    require_root();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &busybox()]);
    // Resource limits land in the container's cgroup.
    let id = env.ok(&["container", "run", "-d", "--memory", "64m", "--pids-limit", "50", &busybox(), "sleep", "1000"]).stdout.trim().to_string();
    let read = |ctrl: &str, file: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}/rde/{id}/{file}")).unwrap_or_default();
    assert_eq!(read("memory", "memory.limit_in_bytes").trim(), (64u64 << 20).to_string());
    assert_eq!(read("pids", "pids.max").trim(), "50");
    env.ok(&["container", "rm", "-f", &id]);
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/rde/{id}")).exists(), "the cgroup is removed");
    // Capabilities: docker's defaults allow chown; dropping CHOWN forbids it.
    env.ok(&["container", "run", "--rm", &busybox(), "chown", "1000", "/tmp"]);
    let out = env.run(&["container", "run", "--rm", "--cap-drop", "chown", &busybox(), "chown", "1000", "/tmp"]);
    assert_ne!(out.code, 0, "chown without CAP_CHOWN");
    // A read-only root filesystem; tmpfs stays writable.
    let out = env.run(&["container", "run", "--rm", "--read-only", "--tmpfs", "/scratch", &busybox(), "sh", "-c", "touch /scratch/ok && touch /nope"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Read-only file system"), "{}", out.stderr);
    // --env-file, then -e on top; a bad -e is refused.
    let file = env.dir.path().join("vars.env");
    std::fs::write(&file, "# comment\nA=from-file\nB=from-file\n").unwrap();
    let out = env.ok(&["container", "run", "--rm", "--env-file", file.to_str().unwrap(), "-e", "B=from-flag", &busybox(), "sh", "-c", "echo $A $B"]);
    assert_eq!(out.stdout, "from-file from-flag\n");
    let out = env.fails(&["container", "run", "--rm", "-e", "=oops", &busybox(), "true"]);
    assert!(out.stderr.contains("invalid environment variable"), "{}", out.stderr);
    assert!(list(&env.root().join("containers-v1")).is_empty());
}

#[test]
fn containers_start_with_default_signal_dispositions_whatever_rde_ignored() {
    require_root();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &busybox()]);
    // rde started as a background job of a script (SIGINT, SIGQUIT ignored) under nohup (SIGHUP);
    // Rust itself ignores SIGPIPE. None of it may reach the container's processes.
    let ignoring = |args: &[&str]| {
        let mut command = env.command(args);
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGPIPE] {
                    libc::signal(signal, libc::SIG_IGN);
                }
                Ok(())
            });
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let status = ignoring(&["container", "run", "--rm", &busybox(), "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    assert_eq!(status, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    ignoring(&["container", "run", "-d", "--name", "sigs", &busybox(), "sleep", "1000"]);
    let status = ignoring(&["container", "exec", "sigs", "grep", "-E", "^SigIgn", "/proc/self/status"]);
    assert_eq!(status, "SigIgn:\t0000000000000000\n");
    env.ok(&["container", "rm", "-f", "sigs"]);
}
