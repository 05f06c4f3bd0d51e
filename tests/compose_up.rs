//! The compose lifecycle through the real binary (rootful): the seeds'
//! Django + PostgreSQL workflow on examples/django-postgres, with images from
//! the local test registry acting as the Docker Hub mirror, and the behaviours
//! around it: recreation, dependency failures, the project lock, restarts,
//! scaling, one-off runs, the foreground.

mod common;
use common::*;
use std::time::Duration;

fn require_root() {
    assert!(is_root(), "the compose suite runs containers; run it as root through scripts/test");
}

/// An Env whose `docker.io` images come from the shared test registry, running in `dir`.
fn project_env(yaml: Option<&str>) -> Env {
    let mut env = Env::new().with_mirror(&shared_registry());
    let dir = env.dir.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(yaml) = yaml {
        std::fs::write(dir.join("docker-compose.yml"), yaml).unwrap();
    }
    env.cwd = Some(dir);
    env
}

#[test]
fn the_seeds_workflow_runs_on_the_example_project() {
    require_root();
    let mut env = Env::new().with_mirror(&shared_registry());
    let project = copy_example(env.dir.path());
    let (web_port, db_port) = (free_port(), free_port());
    env.cwd = Some(project.clone());
    env.extra_env = vec![("WEB_PORT".into(), web_port.to_string()), ("DB_PORT".into(), db_port.to_string())];
    django_postgres_workflow(&env, &project, web_port, db_port, &env.root());
    assert!(links_with(&env.net_prefix).is_empty());
}

fn links_with(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split(": ").nth(1)).filter(|n| n.starts_with(prefix)).map(String::from).collect()
}

const TWO_SERVICES: &str = "services:\n  api:\n    image: busybox\n    init: true\n    command: httpd -f -p 80 -h /etc\n    depends_on: [cache]\n  cache:\n    image: busybox\n    init: true\n    command: sleep 1000\n";

#[test]
fn up_recreates_only_what_changed_and_down_cleans_up() {
    require_root();
    let env = project_env(Some(TWO_SERVICES));
    let out = env.ok(&["up", "-d"]);
    assert!(out.stderr.contains("Network proj_default  Created") && out.stderr.contains("Container proj-api-1  Started"), "{}", out.stderr);
    let ids = |env: &Env| env.ok(&["ps", "-q"]).stdout;
    let before = ids(&env);
    assert_eq!(before.lines().count(), 2);
    // Nothing changed: nothing is recreated.
    let out = env.ok(&["up", "-d"]);
    assert!(out.stderr.contains("Container proj-api-1  Running") && !out.stderr.contains("Recreate"), "{}", out.stderr);
    assert_eq!(ids(&env), before);
    // api changes: only api is recreated; it reaches cache by name.
    std::fs::write(env.cwd.as_ref().unwrap().join("docker-compose.yml"), TWO_SERVICES.replace("-h /etc", "-h /tmp")).unwrap();
    let out = env.ok(&["up", "-d"]);
    assert!(out.stderr.contains("Container proj-api-1  Recreated") && out.stderr.contains("Container proj-cache-1  Running"), "{}", out.stderr);
    let out = env.ok(&["exec", "-T", "api", "ping", "-c", "1", "-W", "2", "cache"]);
    assert!(out.stdout.contains("1 packets received"), "{}", out.stdout);
    // --force-recreate recreates everything; ps and its json agree.
    env.ok(&["up", "-d", "--force-recreate"]);
    let json = env.ok(&["ps", "--format", "json"]).stdout;
    let rows: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.iter().map(|r| r["Service"].as_str().unwrap()).collect::<Vec<_>>(), ["cache", "api"]);
    assert!(rows.iter().all(|r| r["State"] == "running" && r["Project"] == "proj"));
    assert_eq!(env.ok(&["ps", "--services"]).stdout, "cache\napi\n");
    // down: dependents stop first, everything goes.
    let out = env.ok(&["down"]);
    let (api, cache) = (out.stderr.find("Container proj-api-1  Stopping").unwrap(), out.stderr.find("Container proj-cache-1  Stopping").unwrap());
    assert!(api < cache, "{}", out.stderr);
    assert!(out.stderr.contains("Network proj_default  Removed"), "{}", out.stderr);
    assert!(env.ok(&["container", "ls", "-aq"]).stdout.is_empty());
    assert!(links_with(&env.net_prefix).is_empty());
}

#[test]
fn an_unhealthy_dependency_fails_up_with_its_name_and_output() {
    require_root();
    let yaml = "services:\n  db:\n    image: busybox\n    init: true\n    command: sleep 1000\n    healthcheck:\n      test: [\"CMD-SHELL\", \"echo db is not ready; exit 1\"]\n      interval: 200ms\n      retries: 2\n  web:\n    image: busybox\n    command: sleep 1000\n    depends_on:\n      db:\n        condition: service_healthy\n";
    let env = project_env(Some(yaml));
    let started = std::time::Instant::now();
    let out = env.fails(&["up", "-d"]);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(out.stderr.contains("dependency db is unhealthy: db is not ready"), "{}", out.stderr);
    assert!(!env.ok(&["ps", "-a"]).stdout.contains("proj-web-1"), "web must not be created");
    env.ok(&["down"]);
}

#[test]
fn completed_dependencies_restart_policies_and_scale() {
    require_root();
    let yaml = "services:\n  migrate:\n    image: busybox\n    command: sh -c 'echo migrated'\n  flaky:\n    image: busybox\n    command: sh -c 'echo try; exit 2'\n    restart: on-failure:2\n  app:\n    image: busybox\n    init: true\n    command: sleep 1000\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n";
    let env = project_env(Some(yaml));
    let out = env.ok(&["up", "-d", "--scale", "app=3"]);
    assert!(out.stderr.contains("Container proj-migrate-1  Exited"), "{}", out.stderr);
    assert_eq!(env.ok(&["ps", "-q", "app"]).stdout.lines().count(), 3);
    // on-failure:2 ran it three times, then let it rest.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !env.ok(&["ps", "-a", "flaky"]).stdout.contains("Exited (2)") {
        assert!(std::time::Instant::now() < deadline, "{}", env.ok(&["ps", "-a"]).stdout);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(env.ok(&["logs", "--no-log-prefix", "flaky"]).stdout, "try\ntry\ntry\n");
    // Colors are decided per stream: logs to a pipe carry none, even with stderr on a terminal.
    let logs_with_tty_stderr = |args: &[&str]| {
        let pty = nix::pty::openpty(None, None).unwrap();
        let out = env
            .command(args)
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("COMPOSE_ANSI")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::from(pty.slave))
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = logs_with_tty_stderr(&["logs", "flaky"]);
    assert!(plain.contains("flaky-1 | try") && !plain.contains('\x1b'), "{plain:?}");
    assert!(logs_with_tty_stderr(&["--ansi", "always", "logs", "flaky"]).contains("\x1b[36m"));
    // top: docker compose top's columns, the container's processes.
    let top = env.ok(&["top", "app"]).stdout;
    let header = top.lines().nth(1).unwrap_or_default().split_whitespace().collect::<Vec<_>>();
    assert_eq!(header, ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], "{top}");
    assert!(top.lines().any(|l| l.starts_with("root ") && l.ends_with("sleep 1000")), "{top}");
    // Scaled down: the highest numbers go.
    env.ok(&["up", "-d", "--scale", "app=1"]);
    assert_eq!(env.ok(&["ps", "--format", "json", "app"]).stdout.lines().count(), 1);
    assert!(env.ok(&["ps"]).stdout.contains("proj-app-1"));
    env.ok(&["down"]);
}

#[test]
fn one_off_runs_and_the_foreground_up() {
    require_root();
    let yaml = "services:\n  tool:\n    image: busybox\n    environment: [GREETING=hi]\n    command: sh -c 'echo $$GREETING from the service'\n  ticker:\n    image: busybox\n    init: true\n    command: sh -c 'while true; do echo tick; sleep 0.2; done'\n";
    let env = project_env(Some(yaml));
    let out = env.ok(&["run", "--rm", "-T", "tool", "sh", "-c", "echo $GREETING; exit 0"]);
    assert_eq!(out.stdout, "hi\n");
    assert_eq!(env.run(&["run", "--rm", "-T", "tool", "sh", "-c", "exit 4"]).code, 4);
    assert!(env.ok(&["container", "ls", "-aq"]).stdout.is_empty(), "--rm removed the one-off containers");
    // The foreground: prefixed logs; SIGINT stops everything gracefully.
    let mut up = env.command(&["up"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(up.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while up.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "up did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = up.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ticker-1 | tick") && stdout.contains("tool-1   | hi from the service"), "{stdout}");
    assert!(stderr.contains("Gracefully stopping"), "{stderr}");
    assert!(!env.ok(&["ps"]).stdout.contains("ticker"), "everything stopped");
    env.ok(&["down"]);
}

#[test]
fn two_ups_at_once_do_not_double_start() {
    require_root();
    let env = project_env(Some(TWO_SERVICES));
    let a = env.command(&["up", "-d"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let b = env.command(&["up", "-d"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}{}", String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    assert_eq!(env.ok(&["container", "ls", "-aq"]).stdout.lines().count(), 2);
    env.ok(&["down"]);
}

#[test]
fn dependents_with_restart_true_follow_a_recreated_dependency() {
    require_root();
    let yaml = "services:\n  api:\n    image: busybox\n    init: true\n    command: sleep 1000\n    privileged: true\n    depends_on:\n      cache:\n        condition: service_started\n        restart: true\n  cache:\n    image: busybox\n    init: true\n    command: sleep 1000\n";
    let env = project_env(Some(yaml));
    let out = env.ok(&["up", "-d"]);
    assert!(out.stderr.contains("service api: rde does not apply privileged yet; ignored"), "{}", out.stderr);
    std::fs::write(
        env.cwd.as_ref().unwrap().join("docker-compose.yml"),
        yaml.replace(
            "  cache:\n    image: busybox\n    init: true\n    command: sleep 1000\n",
            "  cache:\n    image: busybox\n    init: true\n    command: sleep 2000\n",
        ),
    )
    .unwrap();
    let out = env.ok(&["up", "-d"]);
    assert!(out.stderr.contains("Container proj-cache-1  Recreated") && out.stderr.contains("Container proj-api-1  Restarted"), "{}", out.stderr);
    env.ok(&["down"]);
}

#[test]
fn without_the_compose_file_a_project_name_is_enough_for_ps_and_down() {
    require_root();
    let env = project_env(Some(TWO_SERVICES));
    env.ok(&["up", "-d"]);
    let elsewhere = |args: &[&str]| {
        let out = env.command(args).current_dir(env.dir.path()).output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, _, stderr) = elsewhere(&["ps"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("no configuration file provided"), "{stderr}");
    let (code, stdout, stderr) = elsewhere(&["-p", "proj", "ps", "-q"]);
    assert_eq!((code, stdout.lines().count()), (0, 2), "{stderr}");
    let (code, _, stderr) = elsewhere(&["-p", "proj", "down"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Container proj-api-1  Removed") && stderr.contains("Network proj_default  Removed"), "{stderr}");
    assert!(env.ok(&["container", "ls", "-aq"]).stdout.is_empty());
    assert!(links_with(&env.net_prefix).is_empty());
}

#[test]
fn a_bare_environment_key_wins_over_env_file() {
    require_root();
    let env = project_env(Some(
        "services:\n  app:\n    image: busybox\n    env_file: app.env\n    environment:\n      A:\n      B: null\n      C: from-compose\n    command: [\"env\"]\n",
    ));
    let dir = env.cwd.clone().unwrap();
    std::fs::write(dir.join("app.env"), "A=from-file\nB=from-file\nC=from-file\nD=from-file\n").unwrap();
    let out = env.ok(&["run", "--rm", "app"]);
    let vars: Vec<&str> = out.stdout.lines().collect();
    assert!(!vars.iter().any(|l| l.starts_with("A=") || l.starts_with("B=")), "A and B are unset (not in the shell): {vars:?}");
    assert!(vars.contains(&"C=from-compose") && vars.contains(&"D=from-file"), "{vars:?}");
    // From the shell, a bare key takes the shell's value.
    let mut with_shell = env;
    with_shell.extra_env.push(("A".into(), "from-shell".into()));
    let out = with_shell.ok(&["run", "--rm", "app"]);
    assert!(out.stdout.lines().any(|l| l == "A=from-shell"), "{}", out.stdout);
}

#[test]
fn ps_filters_by_status() {
    require_root();
    let env = project_env(Some(TWO_SERVICES));
    env.ok(&["up", "-d"]);
    env.ok(&["stop", "-t", "1", "cache"]);
    let services = |args: &[&str]| -> Vec<String> {
        let out = env.ok(&[&["ps", "--format", "json"][..], args].concat()).stdout;
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["Service"].as_str().unwrap().to_string()).collect()
    };
    // A status looks at stopped containers too, as compose's does.
    assert_eq!(services(&["--status", "exited"]), ["cache"]);
    assert_eq!(services(&["--filter", "status=running"]), ["api"]);
    assert_eq!(services(&["--status", "running", "--status", "exited"]).len(), 2);
    assert!(services(&["--status", "paused"]).is_empty());
    let out = env.fails(&["ps", "--status", "sleeping"]);
    assert!(out.stderr.contains("invalid status \"sleeping\"") && out.stderr.contains("hint:"), "{}", out.stderr);
    let out = env.fails(&["ps", "--filter", "name=api"]);
    assert!(out.stderr.contains("status=STATE"), "{}", out.stderr);
    env.ok(&["down"]);
}

#[test]
fn secrets_and_configs_are_mounted_read_only_and_stay_out_of_the_container_layer() {
    require_root();
    let env = project_env(Some(concat!(
        "services:\n  app:\n    image: busybox\n    init: true\n    command: sleep 1000\n",
        "    secrets:\n      - db_pass\n      - {source: token, mode: 0400, uid: \"1000\", gid: \"1001\"}\n      - {source: db_pass, target: renamed}\n",
        "    configs:\n      - app.conf\n      - {source: inline, target: /etc/inline.conf, mode: 0440}\n",
        "secrets:\n  db_pass: {file: ./db_pass.txt}\n  token: {environment: TOKEN}\n",
        "configs:\n  app.conf: {file: ./app.conf}\n  inline: {content: \"port=${PORT:-80}\"}\n",
    )));
    let dir = env.cwd.clone().unwrap();
    std::fs::write(dir.join("db_pass.txt"), "s3cret").unwrap();
    std::fs::write(dir.join("app.conf"), "a=1").unwrap();
    let mut env = env;
    env.extra_env.push(("TOKEN".into(), "tk-123".into()));
    env.ok(&["up", "-d"]);
    let sh = |cmd: &str| env.ok(&["exec", "-T", "app", "sh", "-c", cmd]).stdout;
    assert_eq!(sh("cat /run/secrets/db_pass /run/secrets/renamed /app.conf /etc/inline.conf /run/secrets/token"), "s3crets3creta=1port=80tk-123");
    assert_eq!(
        sh("stat -c '%u:%g %a' /run/secrets/token /etc/inline.conf /run/secrets/db_pass").lines().collect::<Vec<_>>(),
        ["1000:1001 400", "0:0 440", "0:0 644"]
    );
    // Read-only in the container; a host file's edits show through, as docker compose's bind mount.
    let out = env.fails(&["exec", "-T", "app", "sh", "-c", "echo x > /run/secrets/db_pass"]);
    assert!(out.stderr.contains("Read-only"), "{}", out.stderr);
    std::fs::write(dir.join("db_pass.txt"), "rotated").unwrap();
    assert_eq!(sh("cat /run/secrets/db_pass"), "rotated");
    // Nothing of them in the container's own layer.
    let id = env.ok(&["ps", "-q"]).stdout.trim().to_string();
    let upper = env.root().join("containers-v1").join(&id).join("upper");
    let out = std::process::Command::new("grep").args(["-rl", "-e", "tk-123", "-e", "s3cret", "-e", "port=80"]).arg(&upper).output().unwrap();
    assert!(out.stdout.is_empty(), "secret bytes in the container layer: {}", String::from_utf8_lossy(&out.stdout));
    env.ok(&["down"]);
    // A secret from a variable that is not set: a clear error naming it.
    env.extra_env.clear();
    let out = env.fails(&["up", "-d"]);
    assert!(out.stderr.contains("secret \"token\"") && out.stderr.contains("TOKEN") && out.stderr.contains("hint:"), "{}", out.stderr);
    env.ok(&["down"]);
}

#[test]
fn volumes_are_made_with_labels_listed_inspected_removed_and_pruned() {
    require_root();
    let env = project_env(Some(concat!(
        "services:\n  app:\n    image: busybox\n    init: true\n    command: sleep 1000\n    volumes: [\"data:/data\", /anon]\n",
        "volumes:\n  data:\n    labels: {tier: db}\n  outside:\n    external: true\n",
    )));
    let out = env.ok(&["up", "-d"]);
    assert!(out.stderr.contains("Volume \"proj_data\"  Created"), "{}", out.stderr);
    let anon = env.ok(&["volumes", "-q"]).stdout.lines().find(|l| l.starts_with("proj_app_")).expect("the anonymous volume").to_string();
    assert_eq!(env.ok(&["volume", "ls", "-q"]).stdout.lines().collect::<Vec<_>>(), [anon.as_str(), "proj_data"]);
    let inspect: serde_json::Value = serde_json::from_str(&env.ok(&["volume", "inspect", "proj_data"]).stdout).unwrap();
    assert_eq!(inspect[0]["Labels"]["com.docker.compose.project"], "proj");
    assert_eq!(inspect[0]["Labels"]["com.docker.compose.volume"], "data");
    assert_eq!(inspect[0]["Labels"]["tier"], "db");
    assert!(inspect[0]["Mountpoint"].as_str().unwrap().ends_with("volumes-v1/proj_data/_data"));
    // Go templates, as docker's --format.
    assert_eq!(env.ok(&["volume", "ls", "--format", "{{.Name}} {{.Label \"tier\"}}", "--filter", "name=data"]).stdout, "proj_data db\n");
    let table = env.ok(&["ps", "--format", "table {{.Name}}\t{{.Service}}\t{{.State}}"]).stdout;
    assert_eq!(
        table.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).collect::<Vec<_>>(),
        [["NAME", "SERVICE", "STATE"], ["proj-app-1", "app", "running"]]
    );
    let out = env.fails(&["ps", "--format", "{{.Name"]);
    assert!(out.stderr.contains("unclosed action") && out.stderr.contains("hint:"), "{}", out.stderr);
    // In use: not removed, and the error names the container.
    let out = env.fails(&["volume", "rm", "proj_data"]);
    assert!(out.stderr.contains("in use by container proj-app-1"), "{}", out.stderr);
    env.ok(&["exec", "-T", "app", "sh", "-c", "echo kept > /data/f"]);
    env.ok(&["volume", "create", "--label", "mine=1", "spare"]);
    assert_eq!(env.ok(&["volume", "ls", "-q", "--filter", "label=mine"]).stdout.trim(), "spare");
    assert_eq!(env.ok(&["volume", "ls", "-q", "--filter", "dangling=true"]).stdout.trim(), "spare");
    env.ok(&["down"]);
    // Prune takes anonymous volumes only; --all the named ones too; data survives a plain down.
    let out = env.ok(&["volume", "prune", "-f"]);
    assert!(out.stdout.contains(&anon) && !out.stdout.contains("proj_data"), "{}", out.stdout);
    env.ok(&["up", "-d"]);
    assert_eq!(env.ok(&["exec", "-T", "app", "cat", "/data/f"]).stdout.trim(), "kept");
    env.ok(&["down"]);
    env.ok(&["volume", "rm", "spare"]);
    env.fails(&["volume", "rm", "spare"]);
    env.ok(&["volume", "rm", "-f", "spare"]);
    let out = env.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.stdout.contains("Deleted Volumes") && out.stdout.contains("proj_app_"), "{}", out.stdout);
    env.ok(&["volume", "prune", "-af"]);
    assert!(env.ok(&["volume", "ls", "-q"]).stdout.is_empty());
    // An external volume must exist first.
    std::fs::write(
        env.cwd.as_ref().unwrap().join("docker-compose.yml"),
        "services:\n  app:\n    image: busybox\n    command: \"true\"\n    volumes: [\"outside:/o\"]\nvolumes:\n  outside: {external: true}\n",
    )
    .unwrap();
    let out = env.fails(&["up", "-d"]);
    assert!(out.stderr.contains("volume outside is declared as external") && out.stderr.contains("rde volume create outside"), "{}", out.stderr);
    env.ok(&["volume", "create", "outside"]);
    env.ok(&["up", "-d"]);
    env.ok(&["down", "-v"]);
    assert_eq!(env.ok(&["volume", "ls", "-q"]).stdout.trim(), "outside", "down -v keeps external volumes");
    // The local driver's bind options: the volume is a host directory, kept by down -v.
    let device = env.dir.path().join("device");
    std::fs::create_dir_all(&device).unwrap();
    std::fs::write(
        env.cwd.as_ref().unwrap().join("docker-compose.yml"),
        format!("services:\n  app:\n    image: busybox\n    command: sh -c 'echo hi > /code/f'\n    volumes: [\"code:/code\"]\nvolumes:\n  code:\n    driver_opts: {{type: none, o: bind, device: {}}}\n", device.display()),
    )
    .unwrap();
    env.ok(&["up"]);
    assert_eq!(std::fs::read_to_string(device.join("f")).unwrap(), "hi\n");
    env.ok(&["down", "-v"]);
    assert!(device.join("f").exists(), "the host directory stays");
    std::fs::write(
        env.cwd.as_ref().unwrap().join("docker-compose.yml"),
        "services:\n  app:\n    image: busybox\n    volumes: [\"n:/n\"]\nvolumes:\n  n:\n    driver_opts: {type: nfs, o: addr=192.0.2.1}\n",
    )
    .unwrap();
    let out = env.fails(&["up", "-d"]);
    assert!(out.stderr.contains("driver options") && out.stderr.contains("hint:"), "{}", out.stderr);
}

#[test]
fn docker_compose_flags_for_run_exec_up_and_start_and_the_compose_word() {
    require_root();
    let env = project_env(Some(concat!(
        "services:\n  web:\n    image: busybox\n    init: true\n    command: httpd -f -p 8000 -h /etc\n",
        "  worker:\n    image: busybox\n    init: true\n    command: sh -c 'while true; do echo tick; sleep 0.2; done'\n",
    )));
    // `rde compose ...` is `rde ...` (alias docker=rde).
    env.ok(&["compose", "up", "--no-start"]);
    let ps = env.ok(&["compose", "ps", "-a", "--format", "json"]).stdout;
    assert!(ps.lines().all(|l| l.contains("\"State\":\"created\"")) && ps.lines().count() == 2, "{ps}");
    assert!(env.ok(&["ls"]).stdout.lines().count() == 1, "nothing runs: only the header");
    let ls = env.ok(&["ls", "-a", "--format", "json"]).stdout;
    let ls: serde_json::Value = serde_json::from_str(&ls).unwrap();
    assert_eq!(ls[0]["Name"], "proj");
    assert_eq!(ls[0]["Status"], "created(2)");
    assert!(ls[0]["ConfigFiles"].as_str().unwrap().ends_with("proj/docker-compose.yml"), "{ls}");
    env.ok(&["start", "--wait", "web"]);
    assert!(env.ok(&["ls"]).stdout.contains("running(1), created(1)") || env.ok(&["ls"]).stdout.contains("created(1), running(1)"));
    // run: options after the service belong to the command; -p, -l, --cap-add as compose's.
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8000");
    let run = env.ok(&["run", "-d", "--rm", "-p", &publish, "-l", "team=a", "--cap-add", "NET_ADMIN", "web", "httpd", "-f", "-p", "8000", "-h", "/etc"]);
    let id = run.stdout.trim().to_string();
    let body = (0..50)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            http_get(format!("127.0.0.1:{port}").parse().unwrap(), "/hostname").ok()
        })
        .expect("the one-off container's published port answers");
    assert!(!body.is_empty());
    let inspect: serde_json::Value = serde_json::from_str(&env.ok(&["container", "inspect", &id]).stdout).unwrap();
    assert_eq!(inspect[0]["Config"]["Labels"]["team"], "a", "{inspect}");
    let caps = env.ok(&["container", "exec", &id, "grep", "CapEff", "/proc/1/status"]).stdout;
    assert_eq!(cap_bits(&caps) & (1 << 12), 1 << 12, "NET_ADMIN (12) added: {caps}");
    env.ok(&["container", "rm", "-f", &id]);
    // exec -d returns at once; --privileged holds every capability.
    env.ok(&["exec", "-d", "web", "sh", "-c", "sleep 1; echo done > /tmp/detached"]);
    assert!(env.run(&["exec", "-T", "web", "cat", "/tmp/detached"]).code != 0, "exec -d did not wait");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(env.ok(&["exec", "-T", "web", "cat", "/tmp/detached"]).stdout.trim(), "done");
    let plain = env.ok(&["exec", "-T", "web", "grep", "CapEff", "/proc/self/status"]).stdout;
    let privileged = env.ok(&["exec", "-T", "--privileged", "web", "grep", "CapEff", "/proc/self/status"]).stdout;
    assert!(cap_bits(&plain).count_ones() < 20 && cap_bits(&privileged).count_ones() >= 38, "{plain} vs {privileged}");
    env.ok(&["down", "-t", "1"]);
    // up in the foreground with --no-attach: the other service's lines only.
    let child = env.command(&["up", "--no-attach", "web"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("worker-1 | tick") && !stdout.contains("web-1 "), "{stdout}");
    env.ok(&["down", "-t", "1"]);
}

/// The bits of a `CapEff:\tHEX` line of /proc/PID/status.
fn cap_bits(line: &str) -> u64 {
    u64::from_str_radix(line.trim().trim_start_matches("CapEff:").trim(), 16).unwrap()
}

#[test]
fn logs_since_until_index_and_no_color_into_a_file() {
    require_root();
    let env =
        project_env(Some("services:\n  app:\n    image: busybox\n    init: true\n    command: sh -c 'echo one $$HOSTNAME; sleep 2; echo two; sleep 1000'\n"));
    env.ok(&["up", "-d", "--scale", "app=2"]);
    let wait_for = |text: &str| {
        for _ in 0..100 {
            if env.ok(&["logs"]).stdout.matches(text).count() == 2 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no {text:?} in the logs");
    };
    wait_for("one");
    std::thread::sleep(Duration::from_millis(1100));
    let middle = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64().to_string();
    wait_for("two");
    let lines = |args: &[&str]| -> Vec<String> {
        env.ok(&[&["logs", "--no-log-prefix"][..], args].concat()).stdout.lines().map(|l| l.split(' ').next().unwrap().to_string()).collect()
    };
    assert_eq!(lines(&["--until", &middle]), ["one", "one"]);
    assert_eq!(lines(&["--since", &middle]), ["two", "two"]);
    assert_eq!(lines(&["--since", "1h", "--index", "2", "--tail", "1"]), ["two"]);
    assert!(lines(&["--since", "2099-01-01T00:00:00Z"]).is_empty());
    let id = env.ok(&["ps", "-q"]).stdout.lines().next().unwrap().to_string();
    assert_eq!(env.ok(&["container", "logs", "--until", &middle, &id]).stdout.lines().count(), 1);
    assert_eq!(env.ok(&["container", "logs", "--since", &middle, &id]).stdout.trim(), "two");
    // Prefixes without color codes when stdout is a file, even with a terminal elsewhere.
    let out = env.command(&["logs"]).env_remove("NO_COLOR").output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
    env.ok(&["down", "-t", "0"]);
}

#[test]
fn pause_freezes_a_service_until_unpause_and_stop_still_works() {
    require_root();
    let env = project_env(Some(TWO_SERVICES));
    env.ok(&["up", "-d"]);
    let out = env.ok(&["pause", "cache"]);
    assert!(out.stderr.contains("Container proj-cache-1  Paused"), "{}", out.stderr);
    let ps = env.ok(&["ps", "--format", "{{.Service}} {{.State}} {{.Status}}"]).stdout;
    assert!(ps.contains("cache paused Up") && ps.contains("(Paused)") && ps.contains("api running"), "{ps}");
    assert_eq!(env.ok(&["ps", "--status", "paused", "--services"]).stdout.trim(), "cache");
    let state = |id: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/freezer/rde/{id}/freezer.state"))
            .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/rde/{id}/cgroup.freeze")))
    };
    let id = env.ok(&["ps", "-q", "cache"]).stdout.trim().to_string();
    assert!(matches!(state(&id).unwrap().trim(), "FROZEN" | "1"));
    let out = env.fails(&["exec", "-T", "cache", "true"]);
    assert!(out.stderr.contains("is paused") && out.stderr.contains("unpause"), "{}", out.stderr);
    env.fails(&["pause", "nonesuch"]);
    env.ok(&["unpause"]);
    env.ok(&["exec", "-T", "cache", "true"]);
    // A paused container stops: its stop signal arrives once thawed.
    env.ok(&["container", "pause", &id]);
    env.fails(&["container", "pause", &id]);
    env.ok(&["stop", "-t", "5", "cache"]);
    assert!(env.ok(&["ps", "-a", "--format", "{{.Service}} {{.State}}"]).stdout.contains("cache exited"));
    // A paused container is removed by force too (its SIGKILL arrives once thawed).
    env.ok(&["pause", "api"]);
    let api = env.ok(&["ps", "-q", "api"]).stdout.trim().to_string();
    env.ok(&["container", "rm", "-f", &api]);
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/freezer/rde/{api}")).exists() || state(&api).is_err());
    env.ok(&["down"]);
}

#[test]
fn cp_copies_both_ways_running_or_stopped_and_never_follows_the_containers_links_to_the_host() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let env = project_env(Some(
        "services:\n  app:\n    image: busybox\n    init: true\n    command: sleep 1000\n    volumes: [\"data:/data\", \"./conf:/conf:ro\"]\nvolumes:\n  data:\n",
    ));
    std::fs::create_dir_all(env.cwd.as_ref().unwrap().join("conf")).unwrap();
    env.ok(&["up", "-d"]);
    let host = env.dir.path().join("host");
    std::fs::create_dir_all(host.join("tree/sub")).unwrap();
    std::fs::write(host.join("tree/a.txt"), "hello").unwrap();
    std::fs::write(host.join("tree/sub/b.txt"), "deep").unwrap();
    std::os::unix::fs::symlink("a.txt", host.join("tree/link")).unwrap();
    // Into a running container (its volume included): root owns what arrives, modes kept.
    env.ok(&["cp", host.join("tree").to_str().unwrap(), "app:/data/"]);
    let sh = |cmd: &str| env.ok(&["exec", "-T", "app", "sh", "-c", cmd]).stdout;
    assert_eq!(sh("cat /data/tree/a.txt /data/tree/sub/b.txt; readlink /data/tree/link; stat -c %u /data/tree/a.txt"), "hellodeepa.txt\n0\n");
    // A container's symlink to /etc is the container's /etc, on the way in and out.
    let marker = format!("rde-cp-test-{}", std::process::id());
    sh("ln -s /etc /data/evil; mkdir /data/out; ln -s /etc /data/out/etc; echo x > /data/out/f");
    env.ok(&["cp", host.join("tree/a.txt").to_str().unwrap(), &format!("app:/data/evil/{marker}")]);
    assert!(!std::path::Path::new("/etc").join(&marker).exists(), "cp wrote through a container's link into the host's /etc");
    assert_eq!(sh(&format!("cat /etc/{marker}")), "hello");
    env.ok(&["cp", "app:/data/out", host.join("copied").to_str().unwrap()]);
    assert_eq!(std::fs::read_link(host.join("copied/etc")).unwrap(), std::path::Path::new("/etc"), "links come out as links");
    assert_eq!(std::fs::read_to_string(host.join("copied/f")).unwrap(), "x\n");
    // Contents only (SRC/.), and into a missing directory: a clear error.
    env.ok(&["cp", "app:/data/tree/.", host.join("copied").to_str().unwrap()]);
    assert!(host.join("copied/a.txt").exists() && host.join("copied/sub/b.txt").exists());
    let out = env.fails(&["cp", host.join("tree/a.txt").to_str().unwrap(), "app:/nonesuch/dir/"]);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    // A setuid file comes out without its setuid bit (kept with -a).
    sh("cp /bin/busybox /data/suid; chmod 4755 /data/suid");
    env.ok(&["cp", "app:/data/suid", host.join("suid").to_str().unwrap()]);
    assert_eq!(std::fs::metadata(host.join("suid")).unwrap().permissions().mode() & 0o7777, 0o755);
    env.ok(&["cp", "-a", "app:/data/suid", host.join("suid-a").to_str().unwrap()]);
    assert_eq!(std::fs::metadata(host.join("suid-a")).unwrap().permissions().mode() & 0o7777, 0o4755);
    // A stopped container: its layer and its volumes, both ways; nothing stays mounted.
    env.ok(&["stop", "-t", "0"]);
    env.ok(&["cp", "app:/data/tree/sub/b.txt", host.join("b-from-stopped").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(host.join("b-from-stopped")).unwrap(), "deep");
    env.ok(&["cp", host.join("tree/a.txt").to_str().unwrap(), "app:/root/a.txt"]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("cp-root"), "{mounts}");
    // Read-only mounts stay read-only for a copy into a stopped container.
    let out = env.fails(&["cp", host.join("tree/a.txt").to_str().unwrap(), "app:/conf/"]);
    assert!(out.stderr.contains("Read-only") || out.stderr.contains("read-only"), "{}", out.stderr);
    assert!(!env.cwd.as_ref().unwrap().join("conf/a.txt").exists());
    env.ok(&["start", "app"]);
    assert_eq!(sh("cat /root/a.txt"), "hello");
    // docker's form with a container name.
    let name = env.ok(&["ps", "--format", "{{.Name}}"]).stdout.trim().to_string();
    env.ok(&["container", "cp", &format!("{name}:/root/a.txt"), host.join("by-name").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(host.join("by-name")).unwrap(), "hello");
    env.ok(&["down", "-v", "-t", "0"]);
}

#[test]
fn steps_are_a_block_redrawn_on_a_terminal_and_lines_otherwise() {
    require_root();
    let env = project_env(Some(TWO_SERVICES));
    // On a terminal (script's pty): compose v2's block with its header and times.
    let template = env.command(&["up", "-d"]);
    let mut script = std::process::Command::new("script");
    script.args(["-qefc", &format!("{} up -d", env!("CARGO_BIN_EXE_rde")), "/dev/null"]);
    for (k, v) in template.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    script.current_dir(template.get_current_dir().unwrap());
    let out = script.output().unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(tty.contains("[+] Running 3/3") && tty.contains("Container proj-api-1  Started") && tty.contains("s "), "{tty}");
    // Not a terminal: plain lines; --progress quiet (or COMPOSE_PROGRESS): nothing.
    let out = env.ok(&["--progress", "plain", "stop", "-t", "1"]);
    assert!(out.stderr.contains(" ✔ Container proj-api-1  Stopped\n") && !out.stderr.contains("[+]"), "{}", out.stderr);
    let mut quiet = env;
    quiet.extra_env.push(("COMPOSE_PROGRESS".into(), "quiet".into()));
    assert!(quiet.ok(&["down"]).stderr.is_empty());
}

#[test]
fn wait_and_attach_follow_containers_until_they_stop() {
    require_root();
    let env = project_env(Some(concat!(
        "services:\n  quick:\n    image: busybox\n    command: sh -c 'sleep 1; exit 3'\n",
        "  talker:\n    image: busybox\n    init: true\n    command: sh -c 'trap \"exit 130\" INT; while true; do echo tick; sleep 0.2; done'\n",
    )));
    env.ok(&["up", "-d"]);
    let out = env.run(&["wait", "quick"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.trim(), "proj-quick-1 exited with code 3");
    assert_eq!(env.ok(&["container", "wait", "proj-quick-1"]).stdout.trim(), "3");
    // attach: the output from now on; our Ctrl-C reaches the container.
    let child = env.command(&["attach", "talker"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("tick"), "{out:?}");
    assert_eq!(out.status.code(), Some(130), "tini passes SIGINT on: the shell's trap exits 130");
    assert!(env.ok(&["ps", "-a", "--format", "{{.Service}} {{.State}}"]).stdout.contains("talker exited"));
    // stats: docker's fields from the cgroup and the network namespace.
    env.ok(&["start", "talker"]);
    let stats: serde_json::Value = serde_json::from_str(env.ok(&["stats", "--no-stream", "--format", "json"]).stdout.lines().next().unwrap()).unwrap();
    assert_eq!(stats["Name"], "proj-talker-1");
    assert!(stats["CPUPerc"].as_str().unwrap().ends_with('%') && stats["MemUsage"].as_str().unwrap().contains("iB / "), "{stats}");
    assert!(stats["PIDs"].as_str().unwrap().parse::<u32>().unwrap() >= 2, "{stats}");
    let table = env.ok(&["container", "stats", "--no-stream", "proj-talker-1"]).stdout;
    assert!(table.starts_with("CONTAINER ID   NAME") && table.contains("proj-talker-1"), "{table}");
    // wait --down-project: the first exit takes the whole project down.
    env.ok(&["up", "-d"]);
    let out = env.run(&["wait", "--down-project"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("Network proj_default  Removed"), "{}", out.stderr);
    assert!(env.ok(&["container", "ls", "-aq"]).stdout.is_empty());
}

#[test]
fn events_follow_the_projects_containers_and_keep_a_history() {
    require_root();
    let env = project_env(Some(TWO_SERVICES));
    env.ok(&["up", "--no-start"]);
    let child = env.command(&["events", "--json", "api"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    env.ok(&["up", "-d"]);
    env.ok(&["pause", "api"]);
    env.ok(&["unpause", "api"]);
    env.ok(&["down", "-t", "1"]);
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["start", "pause", "unpause", "kill", "die", "stop", "destroy"], "{events:?}");
    assert!(events.iter().all(|e| e["service"] == "api" && e["attributes"]["name"] == "proj-api-1"));
    // docker's form: the kept history, filtered, in its text layout.
    let out = env.ok(&["system", "events", "--since", "5m", "--until", "0s", "--filter", "event=die", "--filter", "container=proj-cache-1"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(lines[0].contains(" container die ") && lines[0].contains("name=proj-cache-1") && lines[0].contains("exitCode="), "{}", lines[0]);
    let out = env.ok(&["system", "events", "--since", "5m", "--until", "0s", "--filter", "event=create", "--format", "{{.Actor.Attributes.name}}"]);
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["proj-cache-1", "proj-api-1"]);
}
