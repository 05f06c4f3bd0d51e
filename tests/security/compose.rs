//! Compose input is data, never a path: names that would leave rde's store are
//! refused when the file is loaded (so `up` and `down -v` touch nothing), and YAML
//! that would expand without bound (aliases, nesting) is refused with its position.
//! None of these needs a registry: every command fails while loading the file.

use super::common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An Env whose compose project (`<tmp>/proj/compose.yaml`) holds `compose`.
fn project(compose: &str) -> Env {
    let mut env = Env::new();
    let dir = env.dir.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("compose.yaml"), compose).unwrap();
    env.cwd = Some(dir);
    env
}

/// A directory with a file in it, which nothing may delete.
fn victim(at: &Path) -> PathBuf {
    std::fs::create_dir_all(at).unwrap();
    std::fs::write(at.join("precious"), "keep me").unwrap();
    at.to_path_buf()
}

fn assert_intact(victim: &Path) {
    assert_eq!(std::fs::read_to_string(victim.join("precious")).ok().as_deref(), Some("keep me"), "{} was touched", victim.display());
}

/// `config`, `up -d` and `down -v` all refuse the file with `expected` (one line naming the
/// file, line and field) and leave the victim alone.
fn refused_everywhere(env: &Env, expected: &str, victim: &Path) {
    for args in [&["config"][..], &["config", "-q"], &["up", "-d"], &["down", "-v"], &["-p", "proj", "down", "-v"]] {
        let run = env.fails(args);
        let line = run.stderr.lines().find(|l| l.contains(expected)).unwrap_or_else(|| panic!("rde {}: no {expected:?} in:\n{}", args.join(" "), run.stderr));
        assert!(line.contains("; hint:") || run.stderr.contains("hint:"), "no hint: {}", run.stderr);
        assert_intact(victim);
    }
}

#[test]
fn volume_named_by_an_absolute_path_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let target = victim(&scratch.path().join("victim"));
    let env = project(&format!("services:\n  app:\n    image: busybox\n    volumes: [data:/data]\nvolumes:\n  data:\n    name: {}\n", target.display()));
    refused_everywhere(&env, &format!("compose.yaml:7:11: volumes.data.name: invalid volume name \"{}\": '/' is not allowed", target.display()), &target);
}

#[test]
fn volume_named_with_dot_dot_is_refused() {
    let env = project("services:\n  app:\n    image: busybox\n    volumes: [data:/data]\nvolumes:\n  data:\n    name: ../victim\n");
    // volumes-v1/../victim is <store>/victim.
    let target = victim(&env.root().join("victim"));
    refused_everywhere(&env, "compose.yaml:7:11: volumes.data.name: invalid volume name \"../victim\"", &target);
    // The same through interpolation and the legacy external form.
    let env = project("services:\n  app:\n    image: busybox\n    volumes: [data:/data]\nvolumes:\n  data:\n    name: ${VOL}\n");
    let target = victim(&env.root().join("victim"));
    let mut env = env;
    env.extra_env.push(("VOL".into(), "../victim".into()));
    refused_everywhere(&env, "volumes.data.name: invalid volume name \"../victim\"", &target);
    let env = project("services:\n  app:\n    image: busybox\n    volumes: [data:/data]\nvolumes:\n  data:\n    external:\n      name: ..\n");
    let target = victim(&env.root().join("volumes-v1"));
    refused_everywhere(&env, "compose.yaml:8:13: volumes.data.external.name: invalid volume name \"..\"", &target);
}

#[test]
fn network_and_container_names_with_a_slash_are_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let target = victim(&scratch.path().join("victim"));
    let env = project("services:\n  app:\n    image: busybox\n    networks: [front]\nnetworks:\n  front:\n    name: ../../x/y\n");
    refused_everywhere(&env, "compose.yaml:7:11: networks.front.name: invalid network name \"../../x/y\": it may not start with '.'", &target);
    let env = project("services:\n  app:\n    image: busybox\n    container_name: a/b\n");
    refused_everywhere(&env, "compose.yaml:4:21: services.app.container_name: invalid container name \"a/b\": '/' is not allowed", &target);
    let env = project("services:\n  a/b:\n    image: busybox\n");
    refused_everywhere(&env, "compose.yaml:2:3: services.a/b: invalid service name \"a/b\"", &target);
}

#[test]
fn project_names_with_a_slash_are_refused() {
    let env = project("name: ../victim\nservices:\n  app:\n    image: busybox\n");
    let target = victim(&env.root().join("victim"));
    let run = env.fails(&["config"]);
    assert!(run.stderr.contains("compose.yaml:1:7: name: invalid project name \"../victim\""), "{}", run.stderr);
    env.fails(&["down", "-v"]);
    assert_intact(&target);

    let env = project("services:\n  app:\n    image: busybox\n");
    for args in [&["-p", "../victim", "config"][..], &["-p", "a/b", "up", "-d"], &["-p", "../victim", "down", "-v"]] {
        let run = env.fails(args);
        assert!(run.stderr.contains("invalid project name"), "rde {}: {}", args.join(" "), run.stderr);
    }
    let mut env = env;
    env.extra_env.push(("COMPOSE_PROJECT_NAME".into(), "../victim".into()));
    let run = env.fails(&["config"]);
    assert!(run.stderr.contains("invalid project name \"../victim\""), "{}", run.stderr);

    // Without a compose file, `-p NAME` alone names the project: its lock file
    // (<store>/projects/<name>.lock) must not land elsewhere.
    let env = Env::new();
    let run = env.fails(&["-p", "../escaped", "down", "-v"]);
    assert!(run.stderr.contains("invalid project name \"../escaped\""), "{}", run.stderr);
    assert!(!env.root().join("escaped.lock").exists());
}

#[test]
fn cli_names_follow_the_same_rules() {
    let env = Env::new();
    let run = env.fails(&["network", "create", "../x"]);
    assert!(run.stderr.contains("invalid network name \"../x\""), "{}", run.stderr);
    // Refused before any image is looked up or pulled.
    let run = env.fails(&["container", "run", "--name", "a/b", "busybox", "true"]);
    assert!(run.stderr.contains("invalid container name \"a/b\""), "{}", run.stderr);
    let run = env.fails(&["container", "run", "-v", "x/../../victim:/data", "busybox", "true"]);
    assert!(
        run.stderr.contains("invalid volume specification \"x/../../victim:/data\": invalid volume name \"x/../../victim\": '/' is not allowed"),
        "{}",
        run.stderr
    );
    assert!(!env.root().join("volumes-v1").exists(), "no volume was made");
}

/// Nine levels of ten aliases: 10^9 values if expanded.
fn billion_laughs() -> String {
    let mut text = String::from("services:\n  app:\n    image: busybox\nx-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        text.push_str(&format!("x-l{level}: &l{level} [{}]\n", vec![format!("*l{}", level - 1); 10].join(", ")));
    }
    text
}

/// Runs `rde args` with at most 1 GiB of address space, and says how long it took.
fn limited(env: &Env, args: &[&str]) -> (Run, Duration) {
    use std::os::unix::process::CommandExt;
    let mut command = env.command(args);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 1 << 30, rlim_max: 1 << 30 };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let out = command.output().expect("run rde");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, start.elapsed())
}

#[test]
fn billion_laughs_are_refused_quickly_in_bounded_memory() {
    let env = project(&billion_laughs());
    let (run, took) = limited(&env, &["config"]);
    assert!(run.code > 0, "{}", run.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let line = run.stderr.lines().find(|l| l.contains("excessive aliasing")).unwrap_or_else(|| panic!("{}", run.stderr));
    let at = line.split("compose.yaml:").nth(1).unwrap_or_else(|| panic!("no file in {line}"));
    assert!(at.split(':').next().is_some_and(|n| n.parse::<usize>().is_ok()), "no line number in {line}");
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn deep_nesting_is_refused_without_a_crash() {
    let head = "services:\n  app:\n    image: busybox\n";
    for (what, text, expected) in [
        // `- - - ...`: one more block sequence per `- `, all on line 5.
        ("block", format!("{head}x-deep:\n  {}\n", "- ".repeat(100_000)), "compose.yaml:5:"),
        // `[[[...`: yaml-rust2 stops at 255 flow levels.
        ("flow", format!("{head}x-deep: {}\n", "[".repeat(100_000)), "compose.yaml:4:"),
        // One more indented mapping per line.
        ("mapping", format!("{head}x-deep:\n{}", (1..3000).map(|i| format!("{}a:\n", " ".repeat(i))).collect::<String>()), "compose.yaml:"),
    ] {
        let env = project(&text);
        let (run, took) = limited(&env, &["config"]);
        // An error's exit code, not a signal (a stack overflow aborts: no exit code, -1 here).
        assert!(run.code > 0, "{what}: {}", run.stderr);
        assert!(took < Duration::from_secs(10), "{what}: took {took:?}");
        assert!(run.stderr.contains(expected), "{what}: {}", run.stderr);
        if what != "flow" {
            assert!(run.stderr.contains("nested deeper than"), "{what}: {}", run.stderr);
        }
    }
}
