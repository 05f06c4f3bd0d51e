//! `rde image save` / `load` and the project's `rde save` / `load` with real
//! podman on the other side: images keep their ids both ways; a project saved
//! in one store comes up in another with the registry gone; bad archives are
//! named and leave nothing behind.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn id(env: &Env, image: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["image", "inspect", image]).stdout).unwrap();
    v[0]["Id"].as_str().unwrap().trim_start_matches("sha256:").to_string()
}

#[test]
fn images_keep_their_ids_from_rde_to_podman_and_back() {
    let reg = shared_registry();
    let image = format!("{reg}/test/layers:latest");
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &image]);
    let original = id(&env, &image);
    let work = tempfile::tempdir().unwrap();
    let saved = work.path().join("layers.tar");
    env.ok(&["image", "save", "-o", saved.to_str().unwrap(), &image]);
    // The same archive again, byte for byte.
    let again = work.path().join("again.tar");
    env.ok(&["image", "save", "-o", again.to_str().unwrap(), &image]);
    assert!(std::fs::read(&saved).unwrap() == std::fs::read(&again).unwrap(), "save is not deterministic");

    let podman = Podman::new();
    podman.run(&["load", "-q", "-i", saved.to_str().unwrap()]);
    assert_eq!(podman.id(&image), original, "podman load of rde's archive");

    for format in ["docker-archive", "oci-archive"] {
        let from_podman = work.path().join(format!("{format}.tar"));
        podman.run(&["save", "-q", "--format", format, "-o", from_podman.to_str().unwrap(), &image]);
        let fresh = Env::new();
        let out = fresh.ok(&["image", "load", "-i", from_podman.to_str().unwrap()]);
        assert!(out.stdout.contains(&format!("Loaded image: {image}")), "{format}: {}", out.stdout);
        assert_eq!(id(&fresh, &image), original, "{format}");
        // Loaded layers write out again as the same bytes (their tar-split records).
        let back = work.path().join(format!("{format}-back.tar"));
        fresh.ok(&["image", "save", "-o", back.to_str().unwrap(), &image]);
        fresh.assert_store_consistent();
    }
    // Standard output and input work too.
    let piped = Command::new(env!("CARGO_BIN_EXE_rde")).args(["image", "save", &image]).envs(env_vars(&env)).output().unwrap();
    assert!(piped.status.success());
    assert_eq!(piped.stdout, std::fs::read(&saved).unwrap());
    let fresh = Env::new();
    let mut load = fresh.command(&["image", "load"]);
    load.stdin(std::fs::File::open(&saved).unwrap());
    assert!(load.output().unwrap().status.success());
    assert_eq!(id(&fresh, &image), original);
    assert!(list(&fresh.root().join("tmp")).is_empty(), "the piped archive's temp file stays: {:?}", list(&fresh.root().join("tmp")));
}

fn env_vars(env: &Env) -> Vec<(String, String)> {
    let c = env.command(&[]);
    c.get_envs().filter_map(|(k, v)| Some((k.to_string_lossy().into_owned(), v?.to_string_lossy().into_owned()))).collect()
}

#[test]
fn a_project_saved_in_one_store_runs_in_another_without_a_registry() {
    assert!(is_root(), "the archive suite runs containers; run it through scripts/test");
    let registry = Registry::start("plain");
    registry.push(&["library/busybox"], false);
    let reg = registry.host();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("offline");
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        format!("services:\n  base:\n    image: {reg}/library/busybox\n    command: [\"sleep\", \"300\"]\n  app:\n    build: ./app\n    command: [\"sleep\", \"300\"]\n"),
    )
    .unwrap();
    std::fs::write(dir.join("app/Dockerfile"), format!("FROM {reg}/library/busybox\nRUN echo built > /built\n")).unwrap();
    let mut one = Env::new();
    one.cwd = Some(dir.clone());
    one.ok(&["lock"]);
    one.ok(&["build"]);
    one.ok(&["pull"]);
    let archive = work.path().join("offline.tar");
    let out = one.ok(&["save", "-o", archive.to_str().unwrap()]);
    assert!(out.stderr.contains("Saved 2 images"), "{}", out.stderr);
    drop(registry);

    let mut two = Env::new();
    two.cwd = Some(dir.clone());
    two.ok(&["load", "-i", archive.to_str().unwrap()]);
    let up = two.run(&["up", "-d", "--pull", "never", "--locked"]);
    let cleanup = two.run(&["down", "-t", "0"]);
    assert_eq!(up.code, 0, "{}{}", up.stdout, up.stderr);
    assert_eq!(cleanup.code, 0, "{}", cleanup.stderr);
    assert!(!up.stderr.contains("Building"), "the built image came from the archive: {}", up.stderr);
    two.assert_store_consistent();
}

/// Rewrite `archive` into `out` with `change` applied to each (name, bytes) member.
fn rewrite(archive: &Path, out: &Path, change: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) {
    let mut input = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if let Some(bytes) = change(&name, bytes) {
            let mut h = entry.header().clone();
            h.set_size(bytes.len() as u64);
            h.set_cksum();
            builder.append(&h, bytes.as_slice()).unwrap();
        }
    }
    builder.finish().unwrap();
}

#[test]
fn bad_archives_are_named_and_leave_nothing() {
    let reg = shared_registry();
    let image = format!("{reg}/library/busybox:latest");
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &image]);
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("good.tar");
    env.ok(&["image", "save", "-o", good.to_str().unwrap(), &image]);
    let layer = {
        let v: serde_json::Value = serde_json::from_str(&env.ok(&["image", "inspect", &image]).stdout).unwrap();
        v[0]["RootFS"]["Layers"][0].as_str().unwrap().trim_start_matches("sha256:").to_string()
    };

    let damaged = work.path().join("damaged.tar");
    rewrite(&good, &damaged, |name, mut bytes| {
        if name.ends_with(&layer) {
            let at = bytes.len() / 2;
            bytes[at] ^= 0xff;
        }
        Some(bytes)
    });
    let missing = work.path().join("missing.tar");
    rewrite(&good, &missing, |name, bytes| (!name.ends_with(&layer)).then_some(bytes));
    let not_archive = work.path().join("notes.txt");
    std::fs::write(&not_archive, "not a tar at all, just some text that is long enough to fill a block or two ".repeat(20)).unwrap();

    for (file, expect) in [(&damaged, "is not the layer its config names"), (&missing, "is not in the archive"), (&not_archive, "is not an image archive")] {
        let fresh = Env::new();
        let out = fresh.fails(&["image", "load", "-i", file.to_str().unwrap()]);
        assert!(out.stderr.contains(expect), "{}: {}", file.display(), out.stderr);
        assert!(out.stderr.contains(&file.display().to_string()), "names the file: {}", out.stderr);
        assert_eq!(fresh.ok(&["image", "ls", "-q"]).stdout.trim(), "", "{}: an image was recorded", file.display());
        fresh.assert_store_consistent();
        assert!(fresh.layer_dirs().is_empty(), "{}: a layer was kept: {:?}", file.display(), fresh.layer_dirs());
    }
    // Digests an archive claims without the blobs that prove them are not recorded: a
    // crafted archive cannot pass for a pinned image.
    let forged = work.path().join("forged.tar");
    let fake = format!("docker.io/library/postgres@sha256:{}", "a".repeat(64));
    rewrite(&good, &forged, |name, bytes| {
        if name == "index.json" {
            let mut index: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for m in index["manifests"].as_array_mut().unwrap() {
                m["annotations"]["io.rde.image.repo-digests"] = serde_json::json!(fake);
                m["annotations"]["io.rde.image.manifest-digest"] = serde_json::json!(format!("sha256:{}", "b".repeat(64)));
            }
            return Some(serde_json::to_vec(&index).unwrap());
        }
        Some(bytes)
    });
    let fresh = Env::new();
    fresh.ok(&["image", "load", "-i", forged.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&fresh.ok(&["image", "inspect", &image]).stdout).unwrap();
    assert!(!v[0]["RepoDigests"].to_string().contains("postgres"), "{}", v[0]["RepoDigests"]);
    // The genuine archive's provenance is kept: the registry's manifest proves it.
    let genuine = Env::new();
    genuine.ok(&["image", "load", "-i", good.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&genuine.ok(&["image", "inspect", &image]).stdout).unwrap();
    assert!(v[0]["RepoDigests"].to_string().contains(&format!("{reg}/library/busybox@sha256:")), "{}", v[0]["RepoDigests"]);

    // Refused to a terminal is not testable here; a missing image is named.
    let out = env.fails(&["image", "save", "-o", work.path().join("x.tar").to_str().unwrap(), "nosuch:1"]);
    assert!(out.stderr.contains("no such image: nosuch:1"), "{}", out.stderr);
    assert!(!work.path().join("x.tar").exists());
    assert_eq!(list(work.path()).iter().filter(|n| n.ends_with(".tmp")).count(), 0, "{:?}", list(work.path()));
}
