//! The store cannot be corrupted: damaged blobs, truncated blobs, missing blobs,
//! killed pulls and dropped connections leave nothing half-written, and the next
//! pull completes.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The layer blob of `repo:tag` in `reg`, from the manifest skopeo reads.
fn first_layer(reg: &Registry, repo: &str) -> (String, u64) {
    let m = skopeo_inspect_raw(&format!("{}/{repo}:latest", reg.host()));
    let layer = &m["layers"][0];
    let digest = layer["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    (digest, layer["size"].as_u64().unwrap())
}

#[test]
fn damaged_truncated_and_missing_blobs_are_refused() {
    let reg = Registry::start("plain");
    reg.push(&["library/busybox"], false);
    let image = format!("{}/library/busybox", reg.host());
    let (hex, size) = first_layer(&reg, "library/busybox");
    let data = reg.blob_data(&hex);
    let original = std::fs::read(&data).unwrap();
    let env = Env::new();

    // Same length, one byte flipped in the middle: only the digest can tell.
    let mut flipped = original.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    std::fs::write(&data, &flipped).unwrap();
    let out = env.fails(&["image", "pull", &image]);
    assert!(out.stderr.contains("does not match its digest") || out.stderr.contains("unreadable layer"), "{}", out.stderr);
    assert!(out.stderr.contains(&reg.host()) || out.stderr.contains("busybox"), "{}", out.stderr);
    assert!(env.layer_dirs().is_empty(), "a damaged layer was stored");
    assert!(list(&env.root().join("images-v1")).is_empty());
    env.assert_store_consistent();

    // Truncated.
    std::fs::write(&data, &original[..original.len() / 3]).unwrap();
    let out = env.fails(&["image", "pull", &image]);
    assert!(out.stderr.contains(&format!("expected {size} bytes")) || out.stderr.contains("broke off"), "{}", out.stderr);
    assert!(out.stderr.contains("nothing was stored"), "{}", out.stderr);
    assert!(env.layer_dirs().is_empty());

    // Missing: the manifest names a blob the registry no longer has (deleted through its API).
    std::fs::write(&data, &original).unwrap();
    let status = std::process::Command::new("curl")
        .args(["-sf", "-X", "DELETE", &format!("http://{}/v2/library/busybox/blobs/sha256:{hex}", reg.host())])
        .status()
        .unwrap();
    assert!(status.success(), "DELETE blob");
    let out = env.fails(&["image", "pull", &image]);
    assert!(out.stderr.contains("not found") && out.stderr.contains(&hex), "{}", out.stderr);
    assert!(env.layer_dirs().is_empty());
    env.assert_store_consistent();

    // Repaired: the next pull completes.
    reg.push(&["library/busybox"], false);
    env.ok(&["image", "pull", &image]);
    assert_eq!(env.layer_dirs().len(), 1);
    env.assert_store_consistent();
}

#[test]
fn a_killed_pull_leaves_no_corrupt_entry() {
    let reg = shared_registry();
    let env = Env::new();
    let image = format!("{reg}/library/postgres:15");
    for delay_ms in [150, 600, 1200] {
        let mut child = env.command(&["image", "pull", &image]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        env.assert_store_consistent();
    }
    env.ok(&["image", "pull", &image]);
    env.assert_store_consistent();
    // Staging leftovers of the killed pulls are gone after prune.
    env.ok(&["system", "prune", "-f"]);
    assert!(list(&env.root().join("tmp")).is_empty(), "{:?}", list(&env.root().join("tmp")));
    let ls = env.ok(&["image", "ls"]);
    assert!(ls.stdout.contains("postgres"), "{}", ls.stdout);
}

/// A TCP proxy to the registry that cuts the connection once, after `cut_after`
/// bytes have flowed back to the client.
fn flaky_proxy(upstream: String, cut_after: u64) -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cuts = Arc::new(AtomicU64::new(0));
    let cuts2 = cuts.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let upstream = upstream.clone();
            let cuts = cuts2.clone();
            std::thread::spawn(move || {
                let Ok(server) = TcpStream::connect(&upstream) else { return };
                let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut s_write);
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_read, mut c_write) = (server, client);
                let mut buf = [0u8; 16 * 1024];
                let mut sent = 0u64;
                while let Ok(n) = s_read.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if sent + n as u64 > cut_after && cuts.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                        let _ = c_write.write_all(&buf[..(cut_after - sent) as usize]);
                        let _ = c_write.shutdown(std::net::Shutdown::Both);
                        let _ = s_read.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    if c_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n as u64;
                }
                let _ = c_write.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (port, cuts)
}

#[test]
fn a_dropped_connection_is_retried_and_verified() {
    let reg = shared_registry();
    let (port, cuts) = flaky_proxy(reg.clone(), 3 * 1024 * 1024);
    let env = Env::new();
    let out = env.ok(&["image", "pull", &format!("127.0.0.1:{port}/library/python:3.11")]);
    assert_eq!(cuts.load(Ordering::SeqCst), 1, "the proxy cut the connection");
    assert!(out.stdout.contains("Retrying"), "{}", out.stdout);
    env.assert_store_consistent();
}
