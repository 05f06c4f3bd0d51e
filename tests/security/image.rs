//! Hostile images and registries against `rde image pull`: a manifest and a config
//! that disagree, layers that would expand without bound, a token realm that would
//! collect credentials, blob redirects to other hosts. Images are written here as
//! OCI layouts (so that they can be wrong) and pushed into a registry of the
//! test's own with skopeo.

use super::common::*;
use sha2::{Digest as _, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const GIB: u64 = 1 << 30;

/// A layer blob: gzip of a tar, and the tar's digest (the diff id).
struct Layer {
    gzip: Vec<u8>,
    diff_id: String,
}

/// Compress and hash a tar as it is read, so a 1 GiB tar never sits in memory.
fn layer(mut tar: impl Read) -> Layer {
    let mut hasher = Sha256::new();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = tar.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        gz.write_all(&buf[..n]).unwrap();
    }
    Layer { gzip: gz.finish().unwrap(), diff_id: format!("sha256:{}", hex::encode(hasher.finalize())) }
}

fn file_header(name: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    h.set_cksum();
    h
}

/// A small ordinary layer: one file.
fn small_layer(name: &str, content: &[u8]) -> Layer {
    let mut tar = file_header(name, content.len() as u64).as_bytes().to_vec();
    tar.extend_from_slice(content);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    layer(&tar[..])
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Write an OCI layout holding one image (config from `config`, whose
/// `rootfs.diff_ids` start as the layers' own) and push it with skopeo as
/// `repo:latest`. Returns the config's digest hex.
fn push_image(reg: &Registry, repo: &str, layers: &[Layer], edit_config: impl FnOnce(&mut serde_json::Value)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256(bytes);
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        hex
    };
    let mut config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
    });
    edit_config(&mut config);
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_hex = put(&config_bytes);
    let layer_descriptors: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{}", put(&l.gzip)), "size": l.gzip.len()})
        })
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_hex}"), "size": config_bytes.len()},
        "layers": layer_descriptors,
    }))
    .unwrap();
    let manifest_hex = put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_hex}"),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    });
    std::fs::write(dir.path().join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.path().join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false", "--preserve-digests"])
        .arg(format!("oci:{}:latest", dir.path().display()))
        .arg(format!("docker://{}/{repo}:latest", reg.host()))
        .output()
        .expect("skopeo");
    assert!(out.status.success(), "skopeo copy to {repo}: {}", String::from_utf8_lossy(&out.stderr));
    config_hex
}

fn registry_log(reg: &Registry) -> String {
    std::fs::read_to_string(reg.dir.path().join("registry.log")).unwrap_or_default()
}

#[test]
fn a_manifest_whose_layers_disagree_with_the_config_is_refused_before_any_download() {
    let reg = Registry::start("plain");
    let layers = [small_layer("a", b"first"), small_layer("b", b"second")];
    let layer_hex: Vec<String> = layers.iter().map(|l| sha256(&l.gzip)).collect();
    let more_ids = push_image(&reg, "hostile/more-diff-ids", &layers, |c| {
        c["rootfs"]["diff_ids"].as_array_mut().unwrap().push(serde_json::json!(format!("sha256:{}", "e".repeat(64))));
    });
    let fewer_ids = push_image(&reg, "hostile/fewer-diff-ids", &layers, |c| {
        c["rootfs"]["diff_ids"].as_array_mut().unwrap().pop();
    });
    push_image(&reg, "hostile/rootfs-type", &layers, |c| c["rootfs"]["type"] = serde_json::json!("layers+base"));
    let env = Env::new();
    for (repo, want) in [
        ("hostile/more-diff-ids", "the manifest lists 2 layer(s) but its rootfs.diff_ids has 3".to_string()),
        ("hostile/fewer-diff-ids", "the manifest lists 2 layer(s) but its rootfs.diff_ids has 1".to_string()),
        ("hostile/rootfs-type", r#"rootfs.type is "layers+base", not "layers""#.to_string()),
    ] {
        let image = format!("{}/{repo}", reg.host());
        let out = env.fails(&["image", "pull", &image]);
        assert!(out.stderr.contains(&want), "{repo}: {}", out.stderr);
        assert!(out.stderr.contains(repo) && out.stderr.contains("hint:"), "names the image, with a hint: {}", out.stderr);
    }
    assert!(env.layer_dirs().is_empty(), "no layer was unpacked");
    // The registry served rde the configs, and not one layer (skopeo's pushes are in the log too).
    let log = registry_log(&reg);
    let by_rde: Vec<&str> = log.lines().filter(|l| l.contains("useragent=rde/") || l.contains("useragent=\"rde/")).collect();
    let fetched = |hex: &str| by_rde.iter().any(|l| l.contains(&format!("blobs/sha256:{hex}")));
    assert!(fetched(&more_ids) && fetched(&fewer_ids), "the configs were fetched:\n{log}");
    for hex in layer_hex {
        assert!(!fetched(&hex), "layer {hex} was downloaded:\n{log}");
    }
}

/// A tar with a 100 GiB sparse file (old GNU format, a few bytes of data) and a
/// 1 GiB file of zeros, generated as it is read.
fn expanding_tar() -> impl Read {
    let real = 100 * GIB;
    let mut sparse = tar::Header::new_gnu();
    sparse.set_path("opt/sparse").unwrap();
    sparse.set_entry_type(tar::EntryType::GNUSparse);
    sparse.set_mode(0o644);
    sparse.set_mtime(1_700_000_000);
    sparse.set_size(1024);
    {
        let gnu = sparse.as_gnu_mut().unwrap();
        gnu.sparse[0].set_offset(0);
        gnu.sparse[0].set_length(512);
        gnu.sparse[1].set_offset(real - 512);
        gnu.sparse[1].set_length(512);
        gnu.set_real_size(real);
    }
    sparse.set_cksum();
    let mut head = sparse.as_bytes().to_vec();
    head.extend_from_slice(&[b's'; 1024]);
    head.extend_from_slice(file_header("opt/zeros", GIB).as_bytes());
    std::io::Cursor::new(head).chain(std::io::repeat(0).take(GIB + 1024))
}

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && !path.is_symlink()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}

#[test]
fn sparse_and_zero_filled_layers_use_almost_no_disk() {
    let reg = Registry::start("plain");
    let big = layer(expanding_tar());
    assert!(big.gzip.len() < 16 << 20, "the layer is small compressed: {}", big.gzip.len());
    push_image(&reg, "hostile/expanding", &[big], |_| {});
    let env = Env::new();
    let before = free_bytes(env.dir.path());
    env.ok(&["image", "pull", &format!("{}/hostile/expanding", reg.host())]);
    env.assert_store_consistent();
    let layers = env.layer_dirs();
    assert_eq!(layers.len(), 1);
    let sparse = find(&layers[0], "sparse").expect("opt/sparse unpacked");
    let zeros = find(&layers[0], "zeros").expect("opt/zeros unpacked");
    assert_eq!(std::fs::metadata(&sparse).unwrap().len(), 100 * GIB);
    assert_eq!(std::fs::metadata(&zeros).unwrap().len(), GIB);
    let used = |p: &Path| std::fs::metadata(p).unwrap().blocks() * 512;
    assert!(used(&sparse) <= 1 << 20, "100 GiB sparse file uses {} bytes", used(&sparse));
    assert!(used(&zeros) <= 1 << 20, "1 GiB of zeros uses {} bytes", used(&zeros));
    let after = free_bytes(env.dir.path());
    assert!(before.saturating_sub(after) < 256 << 20, "the pull used {} bytes of disk", before.saturating_sub(after));
}

fn free_bytes(path: &Path) -> u64 {
    let st = rustix::fs::statvfs(path).unwrap();
    st.f_bavail * st.f_frsize
}

/// A registry front that sends every client to the token service at `realm`.
fn challenging_front(realm: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let realm = realm.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                // rde tries HTTPS first: answer a ClientHello as a plain server does.
                let tls = reader.fill_buf().is_ok_and(|b| b.first() == Some(&0x16));
                let mut line = String::new();
                while !tls && reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
                let _ = write!(
                    &stream,
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"rde-test-registry\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

#[test]
fn credentials_never_go_to_a_plain_http_token_realm_on_another_host() {
    // A real token issuer, named by a host name other than the registry's.
    let issuer = Registry::start("token");
    let front = challenging_front(format!("http://localhost:{}/token", issuer.port + 1));
    let env = Env::new();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{USER}:{PASSWORD}"));
    std::fs::write(env.docker_config(), format!(r#"{{"auths":{{"127.0.0.1:{front}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    let out = env.fails(&["image", "pull", &format!("127.0.0.1:{front}/private/app")]);
    assert!(
        out.stderr.contains("did not send your credentials") && out.stderr.contains(&format!("http://localhost:{}/token", issuer.port + 1)),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&format!("127.0.0.1:{front}")) && out.stderr.contains("hint:"), "{}", out.stderr);
    let log = std::fs::read_to_string(issuer.dir.path().join("token-issuer.log")).unwrap();
    assert!(log.contains("issued token"), "the realm was asked anonymously:\n{log}");
    assert!(!log.contains(&format!("sub='{USER}'")), "the realm received the credentials:\n{log}");
    // `rde login` refuses to verify credentials it would not send.
    let mut child = env
        .command(&["login", &format!("127.0.0.1:{front}"), "-u", USER, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("did not send your credentials"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!std::fs::read_to_string(issuer.dir.path().join("token-issuer.log")).unwrap().contains(&format!("sub='{USER}'")));
}

/// A registry front that wants Basic credentials and redirects manifests and
/// blobs to `storage` on another host name, which records every Authorization
/// header it gets and redirects on to the real registry.
fn redirecting_front(storage: u16) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let (path, auth) = read_request(&stream);
                let response = match (path.as_str(), auth) {
                    (_, None) => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n".to_string(),
                    ("/v2/", Some(_)) => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_string(),
                    (path, Some(_)) => format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:{storage}{path}\r\nContent-Length: 0\r\n"),
                };
                let _ = write!(&stream, "{response}Connection: close\r\n\r\n");
            });
        }
    });
    port
}

/// (path, Authorization) of one request; a TLS ClientHello reads as ("", None).
fn read_request(stream: &std::net::TcpStream) -> (String, Option<String>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    if reader.fill_buf().is_ok_and(|b| b.first() == Some(&0x16)) {
        return (String::new(), None);
    }
    let mut request = String::new();
    let _ = reader.read_line(&mut request);
    let mut auth = None;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            auth = Some(value.trim().to_string());
        }
        line.clear();
    }
    (request.split_whitespace().nth(1).unwrap_or("").to_string(), auth)
}

#[test]
fn redirects_to_other_hosts_never_carry_credentials() {
    let reg = Registry::start("plain");
    push_image(&reg, "library/app", &[small_layer("hello", b"hello\n")], |_| {});
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let storage = listener.local_addr().unwrap().port();
    let (record, target) = (seen.clone(), reg.host());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (path, auth) = read_request(&stream);
            record.lock().unwrap().push((path.clone(), auth));
            let _ = write!(&stream, "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{target}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let front = redirecting_front(storage);
    let env = Env::new();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{USER}:{PASSWORD}"));
    std::fs::write(env.docker_config(), format!(r#"{{"auths":{{"127.0.0.1:{front}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    env.ok(&["image", "pull", &format!("127.0.0.1:{front}/library/app")]);
    env.assert_store_consistent();
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|(p, _)| p.contains("/blobs/")), "blobs came through the redirect: {seen:?}");
    assert!(seen.iter().all(|(_, auth)| auth.is_none()), "credentials followed a redirect: {seen:?}");
}
