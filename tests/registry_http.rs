//! How rde reaches registries: a registry's own CA from a certs.d directory,
//! and the proxy environment (HTTP_PROXY / NO_PROXY, Go's rules). The proxy
//! is a small relay in the test that records what it is asked for and
//! forwards to the test registry on 127.0.0.1, so nothing leaves the machine.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[test]
fn a_registrys_own_ca_in_certs_d_is_trusted() {
    let registry = Registry::start("tls");
    registry.push(&["library/busybox"], false);
    let mut env = Env::new();
    let certs = env.dir.path().join("certs.d");
    env.extra_env.push(("RDE_CERTS_D".into(), certs.display().to_string()));
    let image = format!("{}/library/busybox", registry.host());
    let e = env.fails(&["image", "pull", &image]).stderr;
    assert!(e.contains("certificate is not trusted") && e.contains("certs.d"), "{e}");
    let host_dir = certs.join(registry.host());
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(registry.dir.path().join("ca.crt"), host_dir.join("ca.crt")).unwrap();
    env.ok(&["image", "pull", &image]);
    env.assert_store_consistent();
}

/// An HTTP proxy on 127.0.0.1 that records each request line and relays the
/// connection to `upstream` (the registry answers absolute-form requests too).
fn start_proxy(upstream: String) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let log = log.clone();
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let Ok(mut server) = TcpStream::connect(&upstream) else { return };
                let mut reader = BufReader::new(client.try_clone().unwrap());
                // Relay the server's answers as they come.
                let mut from_server = server.try_clone().unwrap();
                let mut to_client = client.try_clone().unwrap();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                });
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    if line.starts_with("GET ") || line.starts_with("HEAD ") || line.starts_with("POST ") || line.starts_with("CONNECT ") {
                        log.lock().unwrap().push(line.trim_end().to_string());
                    }
                    if server.write_all(line.as_bytes()).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn pulls_go_through_the_proxy_unless_no_proxy_names_the_registry() {
    let upstream = shared_registry();
    let (port, seen) = start_proxy(upstream.clone());
    // A registry address that is not loopback (loopback is never proxied) but the suite's own:
    // the package mirror's 10.213.0.1 (scripts/test-mirror), where no registry listens. Only the
    // proxy knows where the registry is; no name is looked up, nothing leaves the machine.
    std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test, which owns 10.213.0.1");
    let upstream_port = upstream.rsplit_once(':').unwrap().1.to_string();
    let name = format!("10.213.0.1:{upstream_port}");
    let mut env = Env::new();
    std::fs::write(env.config_file(), format!("{}insecure-registries = [\"{name}\"]\n", std::fs::read_to_string(env.config_file()).unwrap())).unwrap();
    env.extra_env.push(("HTTP_PROXY".into(), format!("http://127.0.0.1:{port}")));
    env.extra_env.push(("HTTPS_PROXY".into(), format!("http://127.0.0.1:{port}")));
    env.extra_env.push(("NO_PROXY".into(), "other.example".into()));
    let image = format!("{name}/library/busybox");
    env.ok(&["image", "pull", &image]);
    let requests = seen.lock().unwrap().clone();
    assert!(requests.iter().any(|r| r.contains(&format!("http://{name}/v2/library/busybox/manifests/latest"))), "{requests:?}");
    assert!(requests.iter().any(|r| r.contains("/blobs/sha256:")), "{requests:?}");
    // NO_PROXY covers it (a CIDR): rde goes direct, where nothing listens.
    seen.lock().unwrap().clear();
    env.extra_env.retain(|(k, _)| k != "NO_PROXY");
    env.extra_env.push(("NO_PROXY".into(), "10.213.0.0/16".into()));
    let out = env.fails(&["image", "pull", "--platform", "linux/arm64", &image]);
    assert!(seen.lock().unwrap().is_empty(), "{:?}", seen.lock().unwrap());
    assert!(out.stderr.contains("10.213.0.1") && out.stderr.contains("refused"), "{}", out.stderr);
}
