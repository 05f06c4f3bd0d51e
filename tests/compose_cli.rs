//! `rde config` through the real binary: discovery from the current directory,
//! `-f`, `-f -`, the listing flags, JSON, and errors with positions and hints.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;

fn seeds() -> std::path::PathBuf {
    repo_root().join("tests/compose/seeds")
}

fn config_in(dir: &std::path::Path, args: &[&str]) -> Run {
    let env = Env::new();
    let out = env.command(&[&["config"][..], args].concat()).current_dir(dir).env_remove("COMPOSE_FILE").env_remove("COMPOSE_PROJECT_NAME").output().unwrap();
    Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
}

#[test]
fn the_seed_project_renders_like_docker_compose() {
    let dir = seeds().join("pop_planner");
    // Discovered from a subdirectory, as compose walks up to the project.
    let out = config_in(&dir.join("backend"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected = std::fs::read_to_string(dir.join("docker-compose.expected.yaml")).unwrap();
    let actual = out.stdout.replace(&dir.display().to_string(), "<FIXTURE>");
    assert_eq!(actual.trim_end(), expected.trim_end());

    let out = config_in(&dir, &["--services"]);
    let mut services: Vec<&str> = out.stdout.lines().collect();
    services.sort();
    assert!(!services.is_empty() && services.iter().all(|s| !s.contains(' ')), "{}", out.stdout);

    let out = config_in(&dir, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["name"], "pop_planner");
    assert!(config_in(&dir, &["-q"]).stdout.is_empty());
}

#[test]
fn dash_f_files_and_stdin() {
    let dir = seeds().join("djangosample");
    let out = config_in(&dir, &["--images"]);
    assert_ne!(out.code, 0, "no docker-compose.yml in that directory");
    assert!(out.stderr.contains("no configuration file"), "{}", out.stderr);

    let env = Env::new();
    let out = env.command(&["-f", "docker-compose.final.yml", "config", "--volumes"]).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "django_sample_db_dev");
    assert!(String::from_utf8_lossy(&out.stderr).contains("`version` is obsolete"));

    let mut child = env
        .command(&["-f", "-", "-p", "demo", "config", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"services:\n  web:\n    image: ${IMAGE:-python:3.11}\n    ports: [\"8000:8000\"]\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "demo");
    assert_eq!(v["services"]["web"]["image"], "python:3.11");
    assert_eq!(v["services"]["web"]["ports"][0]["published"], "8000");
}

#[test]
fn errors_name_file_line_field_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), "services:\n  web:\n    image: x\n    ports: 8000\n").unwrap();
    let out = config_in(dir.path(), &[]);
    assert_eq!(out.code, 125);
    assert!(out.stderr.contains("compose.yaml:4:12: services.web.ports"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: write a list"), "{}", out.stderr);
    std::fs::write(dir.path().join("compose.yaml"), "services:\n  web:\n    imgae: x\n").unwrap();
    let out = config_in(dir.path(), &["-q"]);
    assert!(out.stderr.contains("did you mean `image`"), "{}", out.stderr);
}

#[test]
fn version_in_dockers_layout_and_shell_completion() {
    let env = Env::new();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(env.ok(&["--version"]).stdout, format!("rde version {version}\n"));
    assert_eq!(env.ok(&["version", "--short"]).stdout, format!("{version}\n"));
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["version", "--format", "json"]).stdout).unwrap();
    assert_eq!(json["Version"], version);
    assert_eq!(env.ok(&["version", "--format", "{{.Version}}/{{ .Os }}"]).stdout, format!("{version}/linux\n"));
    let table = env.ok(&["version"]).stdout;
    assert!(table.starts_with("Client:\n Version:") && table.contains(" OS/Arch:    linux/"), "{table}");
    // Each shell's script: bash's is valid bash, and each names rde's commands.
    let bash = env.ok(&["completion", "bash"]).stdout;
    let script = env.dir.path().join("rde.bash");
    std::fs::write(&script, &bash).unwrap();
    assert!(std::process::Command::new("bash").arg("-n").arg(&script).status().unwrap().success());
    assert!(bash.contains("_rde()") && bash.contains("network") && bash.contains("--dns-search"));
    assert!(env.ok(&["completion", "zsh"]).stdout.starts_with("#compdef rde"));
    assert!(env.ok(&["completion", "fish"]).stdout.contains("complete -c rde"));
    let out = env.fails(&["completion", "tcsh"]);
    assert!(out.stderr.contains("possible values"), "{}", out.stderr);
}

#[test]
fn compose_env_files_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), "services:\n  app:\n    image: \"busybox:${TAG}\"\n    environment: [\"WHO=${WHO}\"]\n").unwrap();
    std::fs::write(dir.path().join("a.env"), "TAG=1.36\nWHO=a\n").unwrap();
    std::fs::write(dir.path().join("b.env"), "WHO=b\n").unwrap();
    let env = Env::new();
    let out = env
        .command(&["config", "--format", "json"])
        .current_dir(dir.path())
        .env("COMPOSE_ENV_FILES", "a.env,b.env")
        .env_remove("TAG")
        .env_remove("WHO")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["services"]["app"]["image"], "busybox:1.36");
    assert_eq!(v["services"]["app"]["environment"]["WHO"], "b", "the later file wins");
}
