//! `rde image push` / `rde push` to real registries (plain, Basic, token), the
//! results read back with skopeo and pulled again by rde with the same ids;
//! blobs the registry has are skipped, blobs of another repository mounted.

mod common;
use common::*;
use std::process::Command;

fn skopeo_digest(image: &str, creds: bool) -> String {
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"]);
    if creds {
        c.arg(format!("--creds={USER}:{PASSWORD}"));
    }
    let out = c.arg(format!("docker://{image}")).output().unwrap();
    assert!(out.status.success(), "skopeo inspect {image}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn image_id(env: &Env, image: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["image", "inspect", image]).stdout).unwrap();
    v[0]["Id"].as_str().unwrap().to_string()
}

fn printed_digest(out: &Run) -> String {
    out.stdout.lines().find_map(|l| l.split_once(": digest: ")).map(|(_, rest)| rest.split(' ').next().unwrap().to_string()).unwrap_or_default()
}

fn with_credentials(env: &Env, host: &str) {
    let auth = {
        let raw = format!("{USER}:{PASSWORD}");
        let out = Command::new("base64").arg("-w0").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
        use std::io::Write;
        out.stdin.as_ref().unwrap().write_all(raw.as_bytes()).unwrap();
        String::from_utf8(out.wait_with_output().unwrap().stdout).unwrap()
    };
    std::fs::write(env.docker_config(), format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
}

#[test]
fn pushed_images_pull_back_with_the_same_digest_and_id() {
    let source = format!("{}/test/layers:latest", shared_registry());
    let env = Env::new();
    env.ok(&["image", "pull", "-q", &source]);
    let id = image_id(&env, &source);
    for mode in ["plain", "htpasswd", "token"] {
        let registry = Registry::start(mode);
        let target = format!("{}/team/layers:v1", registry.host());
        env.ok(&["image", "tag", &source, &target]);
        if mode != "plain" {
            // Refused without credentials: named, with the fix.
            let out = env.fails(&["image", "push", &target]);
            assert!(out.stderr.contains("push access denied") || out.stderr.contains("authentication"), "{mode}: {}", out.stderr);
            assert!(out.stderr.contains("rde login"), "{mode}: {}", out.stderr);
            with_credentials(&env, &registry.host());
        }
        let out = env.ok(&["image", "push", &target]);
        let digest = printed_digest(&out);
        assert!(digest.starts_with("sha256:"), "{mode}: {}", out.stdout);
        assert_eq!(skopeo_digest(&target, mode != "plain"), digest, "{mode}");
        // Again: every blob is there already.
        let again = env.ok(&["image", "push", &target]);
        assert!(again.stdout.contains("Layer already exists") && !again.stdout.contains("Pushed"), "{mode}: {}", again.stdout);
        assert_eq!(printed_digest(&again), digest, "{mode}: the same image pushes as the same manifest");
        // Another repository of the same registry: blobs are mounted, not sent.
        let other = format!("{}/team/copy:v1", registry.host());
        env.ok(&["image", "tag", &target, &other]);
        let mounted = env.ok(&["image", "push", &other]);
        assert!(!mounted.stdout.contains(": Pushed"), "{mode}: {}", mounted.stdout);
        // Pulled back by a fresh store: the same image.
        let fresh = Env::new();
        if mode != "plain" {
            with_credentials(&fresh, &registry.host());
        }
        fresh.ok(&["image", "pull", "-q", &target]);
        assert_eq!(image_id(&fresh, &target), id, "{mode}");
        if mode == "plain" {
            // podman pulls it back as the same image.
            let podman = Podman::new();
            podman.run(&["pull", "-q", "--tls-verify=false", &target]);
            assert_eq!(format!("sha256:{}", podman.id(&target)), id, "podman");
        }
        fresh.assert_store_consistent();
        env.ok(&["image", "rm", &target, &other]);
    }
}

#[test]
fn built_images_push_with_gzip_or_zstd_and_compose_pushes_its_services() {
    assert!(is_root(), "builds run containers; run the suite through scripts/test");
    let registry = Registry::start("plain");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), format!("FROM {}/library/busybox\nRUN echo built > /built\n", shared_registry())).unwrap();
    std::fs::write(dir.join("compose.yaml"), format!("services:\n  app:\n    build: .\n    image: {}/team/app:1\n", registry.host())).unwrap();
    let mut env = Env::new();
    env.cwd = Some(dir.clone());
    env.ok(&["build"]);
    let out = env.ok(&["push"]);
    assert!(out.stderr.contains("Pushed"), "{}", out.stderr);
    let image = format!("{}/team/app:1", registry.host());
    let raw = skopeo_inspect_raw(&image);
    assert!(raw["layers"].as_array().unwrap().iter().all(|l| l["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"), "{raw}");

    let zstd = format!("{}/team/app:zstd", registry.host());
    env.ok(&["image", "tag", &image, &zstd]);
    env.ok(&["image", "push", "--compression", "zstd", &zstd]);
    let raw = skopeo_inspect_raw(&zstd);
    let types: Vec<&str> = raw["layers"].as_array().unwrap().iter().map(|l| l["mediaType"].as_str().unwrap()).collect();
    assert!(types.contains(&"application/vnd.oci.image.layer.v1.tar+zstd"), "{raw}");
    let fresh = Env::new();
    fresh.ok(&["image", "pull", "-q", &zstd]);
    assert_eq!(image_id(&fresh, &zstd), image_id(&env, &image));
    // Nothing of the push is left in the store's scratch space.
    assert!(list(&env.root().join("tmp")).iter().all(|n| !n.starts_with("build-push")), "{:?}", list(&env.root().join("tmp")));
}
