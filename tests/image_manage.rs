//! `rde image ls|inspect|rm`, `rde system df|prune`.

mod common;
use common::*;

#[test]
fn inspect_shows_the_image_config() {
    let reg = shared_registry();
    let env = Env::new();
    let image = format!("{reg}/library/postgres:15");
    env.ok(&["image", "pull", "-q", &image]);
    let out = env.ok(&["image", "inspect", &image]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let c = &v[0]["Config"];
    assert_eq!(c["Entrypoint"][0], "docker-entrypoint.sh", "{c}");
    assert_eq!(c["Cmd"][0], "postgres");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert!(c["ExposedPorts"].get("5432/tcp").is_some(), "{c}");
    assert!(c["Volumes"].get("/var/lib/postgresql/data").is_some(), "{c}");
    assert!(c["Env"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().starts_with("PGDATA=")), "{c}");
    assert_eq!(v[0]["RepoTags"][0], format!("{reg}/library/postgres:15"));
    assert!(v[0]["Id"].as_str().unwrap().starts_with("sha256:"));
    // By short id as well.
    let id = v[0]["Id"].as_str().unwrap()[7..19].to_string();
    let by_id = env.ok(&["image", "inspect", &id]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&by_id.stdout).unwrap()[0]["Id"], v[0]["Id"]);
    // The layer dirs stack into the image's root filesystem.
    let lower = v[0]["GraphDriver"]["Data"]["LowerDir"].as_str().unwrap();
    assert!(lower.split(':').any(|d| std::path::Path::new(d).join("usr/lib/postgresql/15/bin/postgres").exists()), "{lower}");
    let out = env.fails(&["image", "inspect", "no-such-image"]);
    assert!(out.stderr.contains("no such image: no-such-image"), "{}", out.stderr);
}

#[test]
fn rm_untags_then_deletes_and_frees_layers() {
    let reg = shared_registry();
    let env = Env::new();
    let latest = format!("{reg}/library/busybox:latest");
    let pinned = format!("{reg}/library/busybox:1.36");
    env.ok(&["image", "pull", "-q", &latest]);
    env.ok(&["image", "pull", "-q", &pinned]);
    env.ok(&["image", "pull", "-q", &format!("{reg}/test/layers")]);
    let layers_before = env.layer_dirs().len();

    // Two tags name busybox: removing by id needs --force; by tag only untags.
    let id = env.ok(&["image", "ls", "-q", &format!("{reg}/library/busybox")]).stdout.trim().to_string();
    let out = env.fails(&["image", "rm", &id]);
    assert!(out.stderr.contains("several tags"), "{}", out.stderr);
    let out = env.ok(&["image", "rm", &pinned]);
    assert_eq!(out.stdout.trim(), format!("Untagged: {pinned}"));
    assert_eq!(env.layer_dirs().len(), layers_before);

    // The last tag: the image and its layer go, other images stay.
    let out = env.ok(&["image", "rm", &latest]);
    assert!(out.stdout.contains("Deleted: sha256:"), "{}", out.stdout);
    assert_eq!(env.layer_dirs().len(), layers_before - 1);
    let ls = env.ok(&["image", "ls"]);
    assert!(!ls.stdout.contains("busybox") && ls.stdout.contains("test/layers"), "{}", ls.stdout);

    // Several at once: keeps going after a failure and reports it.
    let out = env.run(&["image", "rm", "no-such-image", &format!("{reg}/test/layers")]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("no such image"), "{}", out.stderr);
    assert!(out.stdout.contains("Deleted:"), "{}", out.stdout);
    assert!(env.layer_dirs().is_empty());
    env.assert_store_consistent();
}

#[test]
fn df_and_prune() {
    let reg = shared_registry();
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &format!("{reg}/library/busybox")]);
    let df = env.ok(&["system", "df"]);
    assert!(df.stdout.lines().next().unwrap().starts_with("TYPE"), "{}", df.stdout);
    assert!(df.stdout.contains("Images") && df.stdout.contains("1.98MB") || df.stdout.contains("MB"), "{}", df.stdout);

    // Prune without -a keeps tagged images; with -a removes everything unused.
    let out = env.fails(&["system", "prune"]);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    env.ok(&["system", "prune", "-f"]);
    assert_eq!(env.layer_dirs().len(), 1);
    env.ok(&["system", "prune", "-a", "-f"]);
    assert!(env.layer_dirs().is_empty());
    assert!(list(&env.root().join("blobs-v1/sha256")).is_empty());
    assert!(env.ok(&["image", "ls", "-q"]).stdout.trim().is_empty());
}
