//! `rde lock` and rde.lock's pins against a real registry of the test's own:
//! a tag moved with skopeo changes nothing for a locked project until
//! `rde lock --update`; `lock --check` reports it; `--locked` refuses a missing
//! or stale lock; builds take their base images and ADD URLs as pinned.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Point `to` at what `from` is, in `reg`, with skopeo (as a publisher moving a tag).
fn retag(reg: &str, from: &str, to: &str) -> String {
    let status = Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "--preserve-digests"])
        .arg(format!("docker://{reg}/{from}"))
        .arg(format!("docker://{reg}/{to}"))
        .status()
        .expect("skopeo");
    assert!(status.success(), "skopeo copy {from} {to}");
    let out = Command::new("skopeo").args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"]).arg(format!("docker://{reg}/{to}")).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn repo_digests(env: &Env, image: &str) -> String {
    let out = env.ok(&["image", "inspect", image]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v[0]["RepoDigests"].to_string()
}

fn project(dir: &Path, reg: &str, mirror: &str) {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        format!("services:\n  base:\n    image: {reg}/app/base:1\n    command: [\"true\"]\n  app:\n    build: ./app\n    command: [\"true\"]\n"),
    )
    .unwrap();
    std::fs::write(dir.join("app/Dockerfile"), format!("ARG BASE={reg}/app/base:1\nFROM ${{BASE}}\nADD {mirror}/files/wait-for-it.sh /w.sh\n")).unwrap();
}

#[test]
fn a_locked_project_keeps_its_digests_until_the_lock_is_updated() {
    let mirror = std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test");
    let registry = Registry::start("plain");
    registry.push(&["library/busybox", "library/busybox-plain"], false);
    let reg = registry.host();
    let first = retag(&reg, "library/busybox:latest", "app/base:1");

    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("proj");
    project(&dir, &reg, &mirror);
    let mut env = Env::new();
    env.cwd = Some(dir.clone());

    // --locked without a lock: refused before anything is pulled.
    let out = env.fails(&["up", "-d", "--locked"]);
    assert!(out.stderr.contains("there is no") && out.stderr.contains("rde.lock") && out.stderr.contains("rde lock"), "{}", out.stderr);

    env.ok(&["lock"]);
    let text = std::fs::read_to_string(dir.join("rde.lock")).unwrap();
    assert!(text.starts_with("# rde.lock: "), "{text}");
    assert!(text.contains(&format!("name = \"{reg}/app/base:1\"")) && text.contains(&format!("index = \"{first}\"")), "{text}");
    assert!(text.contains("used-by = [\"app\", \"base\"]"), "the service and the build both use it:\n{text}");
    let script = std::fs::read(repo_root().join("images/mirror/wait-for-it.sh")).unwrap();
    assert!(text.contains(&format!("digest = \"sha256:{}\"", sha256_hex(&script))), "{text}");
    // Again: nothing to change, not a byte.
    let again = env.ok(&["lock"]);
    assert!(again.stderr.contains("up to date"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("rde.lock")).unwrap(), text);
    env.ok(&["lock", "--check"]);
    // compose's digest flags: the locked digest, tag kept; the override holds only the service images.
    let resolved = env.ok(&["config", "--resolve-image-digests"]).stdout;
    assert!(resolved.contains(&format!("image: {reg}/app/base:1@{first}")), "{resolved}");
    let locked = env.ok(&["config", "--lock-image-digests"]).stdout;
    assert_eq!(locked.trim(), format!("services:\n  base:\n    image: {reg}/app/base:1@{first}"), "{locked}");

    // The publisher moves the tag.
    let moved = retag(&reg, "library/busybox-plain:latest", "app/base:1");
    assert_ne!(first, moved);
    let check = env.fails(&["lock", "--check"]);
    assert!(check.stderr.contains(&format!("{reg}/app/base:1: the tag now points at {moved}")), "{}", check.stderr);

    // Pulls and builds keep the locked digest, in a fresh store too.
    env.ok(&["pull", "--locked"]);
    env.ok(&["build", "--locked"]);
    assert!(repo_digests(&env, &format!("{reg}/app/base:1")).contains(&first), "{}", repo_digests(&env, &format!("{reg}/app/base:1")));
    let mut fresh = Env::new();
    fresh.cwd = Some(dir.clone());
    fresh.ok(&["build"]);
    let digests = repo_digests(&fresh, &format!("{reg}/app/base:1"));
    assert!(digests.contains(&first) && !digests.contains(&moved), "{digests}");
    // Without a lock the same commands take the moved tag.
    let unlocked = Env::new();
    unlocked.ok(&["image", "pull", &format!("{reg}/app/base:1")]);
    assert!(repo_digests(&unlocked, &format!("{reg}/app/base:1")).contains(&moved));

    // --update takes the new digest; the check is clean again.
    env.ok(&["lock", "--update"]);
    assert!(std::fs::read_to_string(dir.join("rde.lock")).unwrap().contains(&format!("index = \"{moved}\"")));
    env.ok(&["lock", "--check"]);
    env.ok(&["pull", "--locked"]);
    assert!(repo_digests(&env, &format!("{reg}/app/base:1")).contains(&moved));

    // A compose change the lock does not cover: --locked names it; `lock --check` too.
    std::fs::write(
        dir.join("compose.yaml"),
        format!("services:\n  base:\n    image: {reg}/app/base:1\n  extra:\n    image: {reg}/library/busybox:1.36\n  app:\n    build: ./app\n"),
    )
    .unwrap();
    let out = env.fails(&["pull", "--locked"]);
    assert!(out.stderr.contains(&format!("image {reg}/library/busybox:1.36 (for extra) is not locked")), "{}", out.stderr);
    let out = env.fails(&["lock", "--check"]);
    assert!(out.stderr.contains("is not locked"), "{}", out.stderr);
    env.ok(&["lock"]);
    env.ok(&["pull", "--locked"]);
    env.assert_store_consistent();
    fresh.assert_store_consistent();
}

#[test]
fn a_pinned_download_that_changed_fails_the_build_with_the_fix() {
    let mirror = std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test");
    let registry = Registry::start("plain");
    registry.push(&["library/busybox"], false);
    let reg = registry.host();
    retag(&reg, "library/busybox:latest", "app/base:1");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("proj");
    project(&dir, &reg, &mirror);
    let mut env = Env::new();
    env.cwd = Some(dir.clone());
    env.ok(&["lock"]);
    let text = std::fs::read_to_string(dir.join("rde.lock")).unwrap();
    // A digest the registry no longer has (deleted, or a lock from elsewhere): named, with the fix.
    let gone = text
        .lines()
        .map(|l| {
            if l.starts_with("index = ") || l.starts_with("manifest = ") {
                format!("{} = \"sha256:{}\"", &l[..l.find(' ').unwrap()], "1".repeat(64))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("rde.lock"), gone).unwrap();
    let out = env.fails(&["pull"]);
    assert!(out.stderr.contains("no longer has") && out.stderr.contains("rde lock --update"), "{}", out.stderr);
    // Another digest for the URL, as if the server now served other bytes.
    let script = std::fs::read(repo_root().join("images/mirror/wait-for-it.sh")).unwrap();
    std::fs::write(dir.join("rde.lock"), text.replace(&sha256_hex(&script), &"0".repeat(64))).unwrap();
    let out = env.fails(&["build"]);
    assert!(out.stderr.contains("Dockerfile:3") && out.stderr.contains("changed since rde.lock pinned it"), "{}", out.stderr);
    assert!(out.stderr.contains("rde lock --update"), "{}", out.stderr);
    // A damaged lock file is named, with the fix.
    std::fs::write(dir.join("rde.lock"), "version = 1\n[[image]]\n").unwrap();
    let out = env.fails(&["build"]);
    assert!(out.stderr.contains("rde.lock") && out.stderr.contains("rde lock --update"), "{}", out.stderr);
}
