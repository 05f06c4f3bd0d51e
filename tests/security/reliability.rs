//! Recorded pids are never signalled once they may belong to someone else, and
//! one bad container record does not stop every command.

use super::common::*;
use super::crafted::require_root;
use std::process::Command;
use std::time::{Duration, Instant};

fn busybox() -> String {
    format!("{}/library/busybox", shared_registry())
}

fn id_of(env: &Env, name: &str) -> String {
    let inspect: serde_json::Value = serde_json::from_str(&env.ok(&["container", "inspect", name]).stdout).unwrap();
    inspect[0]["Id"].as_str().unwrap().to_string()
}

fn state_path(env: &Env, name: &str) -> std::path::PathBuf {
    env.root().join("containers-v1").join(id_of(env, name)).join("state.json")
}

fn kill9(pid: i64) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
}

#[test]
fn a_reused_pid_is_never_signalled() {
    require_root();
    let env = Env::new();
    env.ok(&["container", "run", "-d", "--name", "gone", &busybox(), "sleep", "1000"]);
    let path = state_path(&env, "gone");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let (init, shim) = (state["pid"].as_i64().unwrap(), state["shim_pid"].as_i64().unwrap());
    // The shim dies (OOM killer, a careless kill), then the container's init.
    kill9(shim);
    kill9(init);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{init}")).exists() {
        assert!(Instant::now() < deadline, "init {init} did not die");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Unrelated host processes now hold the recorded pids (simulated: the
    // kernel would hand the numbers out again sooner or later).
    let mut strangers: Vec<std::process::Child> = (0..2).map(|_| Command::new("sleep").arg("1000").spawn().unwrap()).collect();
    let mut forged = state.clone();
    forged["pid"] = serde_json::json!(strangers[0].id());
    forged["shim_pid"] = serde_json::json!(strangers[1].id());
    std::fs::write(&path, serde_json::to_vec(&forged).unwrap()).unwrap();
    let out = env.run(&["container", "kill", "gone"]);
    assert_ne!(out.code, 0, "kill claimed to signal a container whose init is gone: {}", out.stdout);
    env.run(&["container", "stop", "-t", "1", "gone"]);
    env.ok(&["container", "rm", "-f", "gone"]);
    for s in &mut strangers {
        assert!(s.try_wait().unwrap().is_none(), "rde signalled the unrelated process {}", s.id());
        let _ = s.kill();
        let _ = s.wait();
    }
    assert!(list(&env.root().join("containers-v1")).is_empty());
    assert!(mounts_under(env.dir.path()).is_empty());
}

#[test]
fn corrupt_and_half_made_records_are_reported_skipped_and_removable() {
    require_root();
    let env = Env::new();
    env.ok(&["container", "run", "-d", "--name", "healthy", &busybox(), "sleep", "1000"]);
    env.ok(&["container", "run", "-d", "--name", "broken", &busybox(), "sleep", "1000"]);
    let id = id_of(&env, "broken");
    let record = env.root().join("containers-v1").join(&id).join("container.json");
    // Truncated, as a full disk or a crash during an edit would leave it.
    let bytes = std::fs::read(&record).unwrap();
    std::fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();
    let ls = env.ok(&["container", "ls", "-a"]);
    assert!(ls.stdout.contains("healthy"), "{}", ls.stdout);
    assert!(ls.stderr.contains(&format!("container record {} is corrupt", record.display())) && ls.stderr.contains("rde container rm -f"), "{}", ls.stderr);
    // Other commands keep working.
    env.ok(&["container", "exec", "healthy", "true"]);
    let out = env.fails(&["container", "logs", &id[..12]]);
    assert!(out.stderr.contains("is corrupt"), "{}", out.stderr);
    // And the broken one goes, with its process and mount.
    env.ok(&["container", "rm", "-f", &id[..12]]);
    assert!(!env.root().join("containers-v1").join(&id).exists());
    let deadline = Instant::now() + Duration::from_secs(10);
    while mounts_under(&env.root().join("containers-v1").join(&id)).len() + count_sleepers(&id) > 0 {
        assert!(Instant::now() < deadline, "the broken container's mount or process was left");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A directory whose create was cut short (no record at all): prune removes it.
    let half = env.root().join("containers-v1").join("f".repeat(64));
    std::fs::create_dir_all(half.join("upper/etc")).unwrap();
    let out = env.ok(&["system", "prune", "-f"]);
    assert!(!half.exists(), "{}", out.all());
    assert!(env.ok(&["container", "ls"]).stdout.contains("healthy"));
    env.ok(&["container", "rm", "-f", "healthy"]);
}

/// Processes whose cgroup names the container (its init and children).
fn count_sleepers(id: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default().contains(id))
        .count()
}

#[test]
fn a_corrupt_network_record_is_reported_skipped_and_removable() {
    require_root();
    let env = Env::new();
    env.ok(&["network", "create", "mangled"]);
    env.ok(&["network", "create", "fine"]);
    let record = env.root().join("networks-v1/mangled.json");
    std::fs::write(&record, b"{\"name\": \"mangled\", \"sub").unwrap();
    let ls = env.ok(&["network", "ls"]);
    assert!(ls.stdout.contains("fine") && !ls.stdout.contains("mangled"), "{}", ls.stdout);
    assert!(ls.stderr.contains("is corrupt") && ls.stderr.contains("rde network rm mangled"), "{}", ls.stderr);
    env.ok(&["network", "rm", "mangled"]);
    assert!(!record.exists());
    env.ok(&["network", "rm", "fine"]);
}

#[test]
fn a_corrupt_image_record_is_reported_skipped_and_removable() {
    let env = Env::new();
    let layers = format!("{}/test/layers", shared_registry());
    env.ok(&["image", "pull", "-q", &busybox()]);
    env.ok(&["image", "pull", "-q", &layers]);
    let records = env.root().join("images-v1");
    let victim = std::fs::read_dir(&records).unwrap().flatten().map(|e| e.path()).find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("test/layers")));
    let victim = victim.expect("the layers image's record");
    std::fs::write(&victim, b"{\"id\": \"sha256:").unwrap();
    let ls = env.ok(&["image", "ls"]);
    assert!(ls.stdout.contains("busybox"), "{}", ls.stdout);
    assert!(ls.stderr.contains("is corrupt") && ls.stderr.contains("rde image rm"), "{}", ls.stderr);
    // Prune keeps every layer while a record cannot be read (one might be its), and says why.
    let out = env.fails(&["system", "prune", "-f"]);
    assert!(out.stderr.contains("is corrupt"), "{}", out.stderr);
    let id = victim.file_stem().unwrap().to_string_lossy()[..12].to_string();
    env.ok(&["image", "rm", &id]);
    assert!(!victim.exists());
    env.ok(&["system", "prune", "-f"]);
    env.ok(&["container", "run", "--rm", &busybox(), "true"]);
}
