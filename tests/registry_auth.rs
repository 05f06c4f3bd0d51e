//! Authentication as real registries do it: Basic (htpasswd) and Docker Hub's
//! Bearer token flow through a token issuer, credentials from docker's
//! config.json, credential helpers, `rde login` / `rde logout`.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;

fn login(env: &Env, host: &str, password: &str) -> Run {
    let mut child =
        env.command(&["login", host, "-u", USER, "--password-stdin"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
}

#[test]
fn basic_auth_login_pull_logout() {
    let reg = Registry::start("htpasswd");
    reg.push(&["library/busybox"], true);
    let env = Env::new();
    let image = format!("{}/library/busybox", reg.host());

    let out = env.fails(&["image", "pull", &image]);
    assert!(out.stderr.contains("rde login"), "hints at login: {}", out.stderr);
    assert!(env.layer_dirs().is_empty());

    let out = login(&env, &reg.host(), "wrong-password");
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("rejected") || out.stderr.contains("failed"), "{}", out.stderr);
    assert!(!env.docker_config().exists() || !std::fs::read_to_string(env.docker_config()).unwrap().contains(&reg.host()));

    let out = login(&env, &reg.host(), PASSWORD);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Login Succeeded"));
    let config = std::fs::read_to_string(env.docker_config()).unwrap();
    assert!(config.contains(&reg.host()) && config.contains("\"auth\""), "{config}");

    env.ok(&["image", "pull", &image]);
    let out = env.ok(&["logout", &reg.host()]);
    assert!(out.stdout.contains("Removing login credentials"));
    let env2 = Env::new();
    env2.fails(&["image", "pull", &image]);
}

#[test]
fn bearer_tokens_anonymous_and_with_credentials() {
    let reg = Registry::start("token");
    reg.push(&["library/busybox", "private/busybox"], true);
    let env = Env::new();
    // Anonymous token for a public repository, as Docker Hub issues them.
    env.ok(&["image", "pull", &format!("{}/library/busybox", reg.host())]);
    // A private repository needs credentials.
    let private = format!("{}/private/busybox", reg.host());
    let out = env.fails(&["image", "pull", &private]);
    assert!(out.stderr.contains(&reg.host()) && out.stderr.contains("private/busybox"), "{}", out.stderr);
    // Credentials from config.json, as docker writes them.
    let auth = base64_of(&format!("{USER}:{PASSWORD}"));
    std::fs::write(env.docker_config(), format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host())).unwrap();
    env.ok(&["image", "pull", &private]);
    // Wrong credentials are an authentication error, not "not found".
    let bad = base64_of(&format!("{USER}:nope"));
    std::fs::write(env.docker_config(), format!(r#"{{"auths":{{"{}":{{"auth":"{bad}"}}}}}}"#, reg.host())).unwrap();
    let env2 = Env::new();
    std::fs::write(env2.docker_config(), std::fs::read(env.docker_config()).unwrap()).unwrap();
    let out = env2.fails(&["image", "pull", &private]);
    assert!(out.stderr.contains("authentication"), "{}", out.stderr);
}

#[test]
fn credential_helpers_and_docker_config_env() {
    let reg = Registry::start("htpasswd");
    reg.push(&["library/busybox"], true);
    let env = Env::new();
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-rdetest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = {} ]; then echo '{{\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'; exit 0; fi\necho 'credentials not found in native keychain'; exit 1\n",
            reg.host()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    // $DOCKER_CONFIG points at another directory, whose config names the helper.
    let docker_dir = env.dir.path().join("docker-elsewhere");
    std::fs::create_dir_all(&docker_dir).unwrap();
    std::fs::write(docker_dir.join("config.json"), format!(r#"{{"credHelpers":{{"{}":"rdetest"}}}}"#, reg.host())).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out =
        env.command(&["image", "pull", &format!("{}/library/busybox", reg.host())]).env("PATH", &path).env("DOCKER_CONFIG", &docker_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
