//! `rde image pull` against a real registry (Debian's docker-registry) holding
//! images pushed by skopeo.

mod common;
use common::*;

fn busybox(reg: &str) -> String {
    format!("{reg}/library/busybox")
}

#[test]
fn pulls_by_tag_digest_and_latest() {
    let reg = shared_registry();
    let env = Env::new();
    let out = env.ok(&["image", "pull", &busybox(&reg)]);
    assert!(out.stdout.contains("Pull complete"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("Status: Downloaded newer image for {reg}/library/busybox:latest")));
    assert_eq!(out.stdout.lines().last().unwrap(), format!("{reg}/library/busybox:latest"));

    // Same layer under another tag: nothing is downloaded again.
    let out = env.ok(&["image", "pull", &format!("{reg}/library/busybox:1.36")]);
    assert!(out.stdout.contains("Already exists"), "{}", out.stdout);
    assert!(out.stdout.contains("Image is up to date"), "{}", out.stdout);

    // By digest: the digest skopeo sees for the tag.
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}", &format!("docker://{reg}/library/busybox:latest")])
        .output()
        .unwrap();
    let digest = String::from_utf8_lossy(&raw.stdout).trim().to_string();
    assert!(digest.starts_with("sha256:"), "skopeo gave {digest:?}");
    let out = env.ok(&["image", "pull", "-q", &format!("{reg}/library/busybox@{digest}")]);
    assert_eq!(out.stdout.trim(), format!("{reg}/library/busybox@{digest}"));

    let ls = env.ok(&["image", "ls"]);
    assert!(ls.stdout.starts_with("REPOSITORY"), "{}", ls.stdout);
    assert!(ls.stdout.contains("latest") && ls.stdout.contains("1.36"), "{}", ls.stdout);
    assert_eq!(env.layer_dirs().len(), 1);
    env.assert_store_consistent();
}

#[test]
fn docker_hub_names_come_from_the_mirror() {
    let reg = shared_registry();
    let env = Env::new().with_mirror(&reg);
    for name in ["busybox", "library/busybox:latest", "docker.io/library/busybox", "index.docker.io/library/busybox:1.36"] {
        let out = env.ok(&["image", "pull", name]);
        assert!(out.stdout.contains("docker.io/library/busybox:"), "{name}: {}", out.stdout);
    }
    let ls = env.ok(&["image", "ls", "--format", "json"]);
    let rows: Vec<serde_json::Value> = ls.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(rows.iter().any(|r| r["Repository"] == "busybox" && r["Tag"] == "latest"), "{}", ls.stdout);
    assert!(rows.iter().any(|r| r["Repository"] == "busybox" && r["Tag"] == "1.36"), "{}", ls.stdout);

    // The environment variable works too, and a dead mirror falls through to the next.
    let env2 = Env::new();
    let mut cmd = env2.command(&["image", "pull", "busybox"]);
    cmd.env("RDE_REGISTRY_MIRRORS", format!("http://127.0.0.1:{},http://{reg}", free_port()));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn compressions_and_manifest_formats() {
    let reg = shared_registry();
    let env = Env::new();
    // zstd, uncompressed and Docker schema2 all unpack to the same layer (same diff id).
    for repo in ["busybox", "busybox-zstd", "busybox-plain", "busybox-docker"] {
        let out = env.ok(&["image", "pull", &format!("{reg}/library/{repo}")]);
        assert!(out.stdout.contains("Pull complete") || out.stdout.contains("Already exists"), "{repo}: {}", out.stdout);
    }
    assert_eq!(env.layer_dirs().len(), 1, "one diff id, one layer dir");
    let media = skopeo_inspect_raw(&format!("{reg}/library/busybox-zstd:latest"));
    assert!(media["layers"][0]["mediaType"].as_str().unwrap().ends_with("zstd"), "{media}");
    let docker = skopeo_inspect_raw(&format!("{reg}/library/busybox-docker:latest"));
    assert_eq!(docker["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    let inspect = env.ok(&["image", "inspect", &format!("{reg}/library/busybox-docker")]);
    let v: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(v[0]["Config"]["Cmd"][0], "sh");
    env.assert_store_consistent();
}

#[test]
fn multi_platform_index_selects_the_platform() {
    let reg = shared_registry();
    let image = format!("{reg}/library/multi");
    let check = |platform: Option<&str>, want: &str| {
        let env = Env::new();
        let mut args = vec!["image", "pull", image.as_str()];
        if let Some(p) = platform {
            args.extend(["--platform", p]);
        }
        env.ok(&args);
        let layer = env.layer_dirs().pop().expect("a layer");
        let text = std::fs::read_to_string(layer.join("diff/platform")).unwrap();
        assert_eq!(text.trim(), want, "platform {platform:?}");
    };
    check(None, "linux/amd64");
    check(Some("linux/arm64"), "linux/arm64/v8");
    check(Some("linux/arm/v7"), "linux/arm/v7");
    let env = Env::new();
    let out = env.fails(&["image", "pull", "--platform", "linux/s390x", &image]);
    assert!(out.stderr.contains("no manifest for platform linux/s390x"), "{}", out.stderr);
    assert!(out.stderr.contains("linux/arm64/v8"), "lists what is available: {}", out.stderr);
    assert!(env.layer_dirs().is_empty());
}

#[test]
fn bad_input_gets_one_clear_line_and_leaves_nothing() {
    let reg = shared_registry();
    let env = Env::new();
    let cases: Vec<(String, &str)> = vec![
        (format!("{reg}/library/busybox:no-such-tag"), "not found"),
        (format!("{reg}/library/no-such-image"), "not found"),
        ("Busybox".to_string(), "must be lowercase"),
        ("busybox:".to_string(), "invalid reference format"),
        (format!("127.0.0.1:{}/library/busybox", free_port()), "unreachable"),
    ];
    for (image, want) in cases {
        let out = env.fails(&["image", "pull", &image]);
        assert_eq!(out.code, 125, "{image}");
        let first = out.stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("Error: "), "{image}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{image}: wanted {want:?} in {}", out.stderr);
        if image.contains("no-such") || image.contains("unreachable") {
            assert!(out.stderr.contains("127.0.0.1"), "names the registry: {}", out.stderr);
        }
    }
    let out = env.fails(&["image", "pull", &format!("{reg}/library/busybox:no-such-tag")]);
    assert!(out.stderr.contains("library/busybox"), "names the image: {}", out.stderr);
    assert!(env.layer_dirs().is_empty());
    assert!(list(&env.root().join("images-v1")).is_empty());
}

#[test]
fn concurrent_pulls_of_one_image_are_safe() {
    let reg = shared_registry();
    let env = Env::new();
    let image = format!("{reg}/library/python:3.11");
    let spawn = || env.command(&["image", "pull", &image]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    env.assert_store_consistent();
    let ls = env.ok(&["image", "ls", "-q"]);
    assert_eq!(ls.stdout.lines().count(), 1, "{}", ls.stdout);
}

/// A server that answers every request with a 307 to the real registry, as
/// registries do when blobs live in object storage.
fn redirector(target: String) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{target}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    port
}

#[test]
fn redirects_are_followed() {
    let reg = shared_registry();
    let port = redirector(reg.clone());
    let env = Env::new();
    let out = env.ok(&["image", "pull", &format!("127.0.0.1:{port}/library/busybox")]);
    assert!(out.stdout.contains("Pull complete"), "{}", out.stdout);
    env.assert_store_consistent();
}
