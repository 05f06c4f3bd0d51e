//! Container logs stay bounded: a line without a newline is logged in 16 KiB
//! pieces (docker's partial entries) instead of being held whole, and
//! `--log-opt max-size/max-file` rotate the log as docker's json-file does.

use super::common::*;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn busybox() -> String {
    format!("{}/library/busybox", shared_registry())
}

/// The directory that holds the container's log files.
fn container_dir(env: &Env, name: &str) -> PathBuf {
    let inspect: serde_json::Value = serde_json::from_str(&env.ok(&["container", "inspect", name]).stdout).unwrap();
    let log = PathBuf::from(inspect[0]["LogPath"].as_str().unwrap());
    assert!(log.starts_with(env.root()), "{}", log.display());
    log.parent().unwrap().to_path_buf()
}

/// The entries of one log file: (log text, stream).
fn entries(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["log"].as_str().unwrap().to_string(), v["stream"].as_str().unwrap().to_string())
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_megabyte_line_without_newline_is_logged_in_pieces() {
    assert!(is_root(), "the security suite needs root; run it through scripts/test");
    let env = Env::new();
    let image = busybox();
    let script = "head -c 1048576 /dev/zero | tr '\\0' x";
    let out = env.ok(&["container", "run", "--name", "long", &image, "sh", "-c", script]);
    assert_eq!(out.stdout.len(), 1 << 20, "the foreground run relays the whole line");
    let logs = env.ok(&["container", "logs", "long"]);
    assert_eq!(logs.stdout.len(), 1 << 20);
    assert!(logs.stdout.bytes().all(|b| b == b'x'));
    let log = container_dir(&env, "long").join("ctr.log");
    let pieces = entries(&log);
    assert_eq!(pieces.len(), 64, "16 KiB pieces");
    assert!(pieces.iter().all(|(text, stream)| text.len() == 16 * 1024 && !text.ends_with('\n') && stream == "stdout"));
    assert_eq!(mode(&log), 0o640);
    // --tail counts entries, as docker's does.
    assert_eq!(env.ok(&["container", "logs", "--tail", "2", "long"]).stdout.len(), 32 * 1024);
    env.ok(&["container", "rm", "long"]);
}

#[test]
fn max_size_and_max_file_rotate_the_log() {
    assert!(is_root(), "the security suite needs root; run it through scripts/test");
    let env = Env::new();
    let image = busybox();
    let out = env.ok(&["container", "run", "--name", "many", "--log-opt", "max-size=10k", "--log-opt", "max-file=2", &image, "seq", "1", "5000"]);
    // The foreground run relays from the log and follows it across rotations: in
    // order, nothing twice, to the end (with 10k files a burst can rotate
    // lines away between two of its reads, which docker's attach would not).
    let relayed: Vec<u32> = out.stdout.lines().map(|l| l.parse().unwrap()).collect();
    assert!(relayed.windows(2).all(|w| w[1] > w[0]), "{relayed:?}");
    assert_eq!(relayed.last(), Some(&5000));
    let inspect: serde_json::Value = serde_json::from_str(&env.ok(&["container", "inspect", "many"]).stdout).unwrap();
    assert_eq!(inspect[0]["HostConfig"]["LogConfig"]["Config"], serde_json::json!({"max-size": "10000", "max-file": "2"}));
    let dir = container_dir(&env, "many");
    let mut logs: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.starts_with("ctr.log")).collect();
    logs.sort();
    assert_eq!(logs, ["ctr.log", "ctr.log.1"]);
    for name in &logs {
        let path = dir.join(name);
        // docker's rule: a file rotates once it has reached max-size (10k is 10000 bytes).
        assert!(std::fs::metadata(&path).unwrap().len() < 10_000 + 200, "{name}");
        assert_eq!(mode(&path), 0o640, "{name}");
    }
    // Oldest first, contiguous, to the last line.
    let logs = env.ok(&["container", "logs", "many"]).stdout;
    let numbers: Vec<u32> = logs.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(numbers.last(), Some(&5000));
    assert!(numbers.len() > 100 && numbers.len() < 400, "{}", numbers.len());
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(env.ok(&["container", "logs", "--tail", "3", "many"]).stdout, "4998\n4999\n5000\n");
    env.fails(&["container", "run", "--rm", "--log-opt", "max-size=lots", &image, "true"]);
    env.fails(&["container", "run", "--rm", "--log-opt", "max-file=0", &image, "true"]);
    env.ok(&["container", "rm", "many"]);
}

#[test]
fn logs_follow_across_rotations() {
    assert!(is_root(), "the security suite needs root; run it through scripts/test");
    let env = Env::new();
    let image = busybox();
    env.ok(&["image", "pull", "-q", &image]);
    // 1000 lines in bursts of 50 (about 4 KB), so a 10k log rotates every few bursts.
    let script = "sleep 1; i=0; while [ $i -lt 1000 ]; do echo line $i; i=$((i+1)); [ $((i % 50)) = 0 ] && sleep 0.1; done; true";
    env.ok(&["container", "run", "-d", "--name", "burst", "--log-opt", "max-size=10k", "--log-opt", "max-file=3", &image, "sh", "-c", script]);
    let mut follower = env.command(&["container", "logs", "-f", "burst"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = follower.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while follower.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "logs -f did not end with the container");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = reader.join().unwrap();
    let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(text, expected);
    assert!(container_dir(&env, "burst").join("ctr.log.2").exists(), "the log rotated");
    env.ok(&["container", "rm", "burst"]);
}

#[test]
fn compose_logging_options_rotate_and_long_lines_print_whole() {
    assert!(is_root(), "the security suite needs root; run it through scripts/test");
    let mut env = Env::new().with_mirror(&shared_registry());
    let dir = env.dir.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = "services:\n  seq:\n    image: busybox\n    command: seq 1 3000\n    logging:\n      driver: json-file\n      options:\n        max-size: 5k\n        max-file: \"3\"\n        compress: \"true\"\n  long:\n    image: busybox\n    command: sh -c \"head -c 100000 /dev/zero | tr '\\\\0' y; echo; echo after\"\n";
    std::fs::write(dir.join("docker-compose.yml"), yaml).unwrap();
    env.cwd = Some(dir);
    let up = env.ok(&["up", "-d"]);
    assert!(up.stderr.contains("logging.options.compress"), "compress is not applied, and said so: {}", up.stderr);
    // Follows until both have exited.
    env.ok(&["logs", "-f"]);
    let seq = container_dir(&env, "proj-seq-1");
    for name in ["ctr.log", "ctr.log.1", "ctr.log.2"] {
        let path = seq.join(name);
        assert!(std::fs::metadata(&path).unwrap().len() < 5_000 + 200, "{name}");
        assert_eq!(mode(&path), 0o640, "{name}");
    }
    assert!(!seq.join("ctr.log.3").exists());
    let out = env.ok(&["logs", "--no-color", "seq"]).stdout;
    assert!(out.ends_with("seq-1 | 3000\n"), "{}", &out[out.len().saturating_sub(200)..]);
    // The 100 KB line is held in 7 pieces, and `rde logs` prints it once, with one prefix.
    assert_eq!(entries(&container_dir(&env, "proj-long-1").join("ctr.log")).len(), 8);
    let out = env.ok(&["logs", "--no-color", "long"]).stdout;
    assert_eq!(out, format!("long-1 | {}\nlong-1 | after\n", "y".repeat(100_000)));
    env.ok(&["down"]);
}
