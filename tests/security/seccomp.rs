//! Seccomp (rootful): docker's default profile in every container and every
//! `exec`, `seccomp=unconfined`, a custom profile file (read at create time),
//! `no-new-privileges`, through `container run` and a compose file's `security_opt`.

use super::common::*;

fn busybox() -> String {
    format!("{}/library/busybox", shared_registry())
}

/// A profile that refuses mkdir and mkdirat with EPERM and allows the rest.
const BLOCK_MKDIR: &str = r#"{
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
}"#;

/// `Seccomp:` and friends from /proc/self/status, e.g. `status_field(out, "Seccomp")`.
fn status_field(status: &str, name: &str) -> String {
    status.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).map(|v| v.trim().to_string()).unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn the_default_profile_is_applied_to_containers_and_exec() {
    assert!(is_root(), "the security suite runs containers; run it through scripts/test");
    let env = Env::new();
    let image = busybox();
    let status = env.ok(&["container", "run", "--rm", &image, "cat", "/proc/self/status"]).stdout;
    assert_eq!(status_field(&status, "Seccomp"), "2", "filter mode");
    assert_eq!(status_field(&status, "NoNewPrivs"), "0");
    // Forks (glibc's fork is clone without namespace flags) and threads work under it.
    let out = env.ok(&["container", "run", "--rm", &image, "sh", "-c", "echo $(echo nested); sleep 0 & wait; mkdir /made && echo made"]);
    assert_eq!(out.stdout, "nested\nmade\n");
    // unshare(CLONE_NEWUSER) needs no capability, only the profile refuses it.
    let out = env.run(&["container", "run", "--rm", &image, "unshare", "-U", "true"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Operation not permitted"), "{}", out.stderr);
    let out = env.ok(&[
        "container",
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        &image,
        "sh",
        "-c",
        "unshare -U true && grep ^Seccomp: /proc/self/status",
    ]);
    assert_eq!(status_field(&out.stdout, "Seccomp"), "0");
    // CAP_SYS_ADMIN brings unshare back, as in docker's profile.
    env.ok(&["container", "run", "--rm", "--cap-add", "SYS_ADMIN", &image, "unshare", "-U", "true"]);

    // exec runs under the same filter, with the container's capabilities and no more.
    env.ok(&["container", "run", "-d", "--name", "confined", &image, "sleep", "1000"]);
    let init = env.ok(&["container", "exec", "confined", "cat", "/proc/1/status"]).stdout;
    let exec = env.ok(&["container", "exec", "confined", "cat", "/proc/self/status"]).stdout;
    assert_eq!(status_field(&exec, "Seccomp"), "2");
    for field in ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"] {
        assert_eq!(status_field(&exec, field), status_field(&init, field), "{field}");
    }
    let out = env.run(&["container", "exec", "confined", "unshare", "-U", "true"]);
    assert!(out.code != 0 && out.stderr.contains("Operation not permitted"), "{}", out.all());
    let app = env.ok(&["container", "exec", "-u", "app", "confined", "cat", "/proc/self/status"]).stdout;
    assert_eq!(
        (status_field(&app, "Seccomp"), status_field(&app, "CapEff"), status_field(&app, "CapPrm")),
        ("2".into(), "0000000000000000".into(), "0000000000000000".into())
    );
    env.ok(&["container", "rm", "-f", "confined"]);
}

#[test]
fn a_custom_profile_file_is_read_at_create_time() {
    assert!(is_root(), "the security suite runs containers; run it through scripts/test");
    let env = Env::new();
    let image = busybox();
    let profile = env.dir.path().join("block-mkdir.json");
    std::fs::write(&profile, BLOCK_MKDIR).unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = env.run(&["container", "run", "--rm", "--security-opt", &opt, &image, "mkdir", "/x"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Operation not permitted"), "{}", out.stderr);
    // Everything else is allowed: the default profile's unshare refusal is gone.
    env.ok(&["container", "run", "--rm", "--security-opt", &opt, &image, "unshare", "-U", "true"]);

    // The legacy colon form; exec is filtered too, and editing the file changes nothing for the container.
    let colon = format!("seccomp:{}", profile.display());
    env.ok(&["container", "run", "-d", "--name", "custom", "--security-opt", &colon, "--security-opt", "no-new-privileges", &image, "sleep", "1000"]);
    std::fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    let out = env.run(&["container", "exec", "custom", "mkdir", "/y"]);
    assert!(out.code != 0 && out.stderr.contains("Operation not permitted"), "{}", out.all());
    let status = env.ok(&["container", "exec", "custom", "cat", "/proc/self/status"]).stdout;
    assert_eq!((status_field(&status, "Seccomp"), status_field(&status, "NoNewPrivs")), ("2".into(), "1".into()));
    env.ok(&["container", "stop", "-t", "1", "custom"]);
    env.ok(&["container", "start", "custom"]);
    let out = env.run(&["container", "exec", "custom", "mkdir", "/z"]);
    assert!(out.code != 0 && out.stderr.contains("Operation not permitted"), "after a restart: {}", out.all());
    env.ok(&["container", "rm", "-f", "custom"]);

    // Bad profiles and options are refused before anything is created, naming the file and field.
    std::fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_PERHAPS"}]}"#).unwrap();
    let out = env.fails(&["container", "run", "--rm", "--security-opt", &opt, &image, "true"]);
    assert!(out.stderr.contains(&format!("seccomp profile {}: syscalls[0].action: unknown action \"SCMP_ACT_PERHAPS\"", profile.display())), "{}", out.stderr);
    let out = env.fails(&["container", "run", "--rm", "--security-opt", "seccomp=/surely/missing.json", &image, "true"]);
    assert!(out.stderr.contains("seccomp profile /surely/missing.json: No such file"), "{}", out.stderr);
    let out = env.fails(&["container", "run", "--rm", "--security-opt", "systempaths=unconfined", &image, "true"]);
    assert!(out.stderr.contains("invalid security option \"systempaths=unconfined\""), "{}", out.stderr);
    assert!(list(&env.root().join("containers-v1")).is_empty());
    // apparmor and label are accepted with a warning.
    let out = env.ok(&["container", "run", "--rm", "--security-opt", "apparmor=unconfined", &image, "true"]);
    assert!(out.stderr.contains("apparmor=unconfined is not applied"), "{}", out.stderr);
}

#[test]
fn compose_security_opt() {
    assert!(is_root(), "the security suite runs containers; run it through scripts/test");
    let mut env = Env::new().with_mirror(&shared_registry());
    let dir = env.dir.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("block-mkdir.json"), BLOCK_MKDIR).unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  confined:\n    image: busybox\n    command: sleep 1000\n    security_opt: [\"seccomp:./block-mkdir.json\"]\n  free:\n    image: busybox\n    command: sleep 1000\n    security_opt: [seccomp=unconfined, \"no-new-privileges:true\", \"label=disable\"]\n  plain:\n    image: busybox\n    command: sleep 1000\n",
    )
    .unwrap();
    env.cwd = Some(dir);
    let out = env.ok(&["up", "-d"]);
    assert!(out.stderr.contains("service free: rde does not apply security_opt apparmor/label"), "{}", out.stderr);
    assert!(!out.stderr.contains("service confined: rde does not apply"), "{}", out.stderr);
    let out = env.run(&["exec", "-T", "confined", "mkdir", "/x"]);
    assert!(out.code != 0 && out.stderr.contains("Operation not permitted"), "{}", out.all());
    let free = env.ok(&["exec", "-T", "free", "cat", "/proc/self/status"]).stdout;
    assert_eq!((status_field(&free, "Seccomp"), status_field(&free, "NoNewPrivs")), ("0".into(), "1".into()));
    let plain = env.ok(&["exec", "-T", "plain", "cat", "/proc/1/status"]).stdout;
    assert_eq!(status_field(&plain, "Seccomp"), "2");
    env.ok(&["down", "-t", "1"]);
}
