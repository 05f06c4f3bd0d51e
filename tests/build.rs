//! `rde image build`: real builds with the real binary, rootful. RUN steps are
//! real containers; the python base's apt and pip reach only the package
//! mirror scripts/test serves on an address the suite owns (RDE_TEST_MIRROR).

mod common;
use common::*;
use std::path::Path;

fn busybox() -> String {
    format!("{}/library/busybox", shared_registry())
}

fn python() -> String {
    format!("{}/library/python:3.11", shared_registry())
}

fn require_root() {
    assert!(is_root(), "the build suite needs root; run it through scripts/test");
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn inspect(env: &Env, image: &str) -> serde_json::Value {
    let out = env.ok(&["image", "inspect", image]).stdout;
    serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
}

/// Nothing of a build is left: no containers, mounts or scratch directories.
fn assert_nothing_left(env: &Env) {
    assert!(env.ok(&["container", "ls", "-aq"]).stdout.trim().is_empty(), "{}", env.run(&["container", "ls", "-a"]).stdout);
    assert!(mounts_under(env.dir.path()).is_empty(), "{:?}", mounts_under(env.dir.path()));
    let tmp: Vec<String> = list(&env.root().join("tmp")).into_iter().filter(|n| n.starts_with("build-")).collect();
    assert!(tmp.is_empty(), "scratch left: {tmp:?}");
    env.assert_store_consistent();
}

#[test]
fn instructions_make_the_config_and_the_files_and_rebuilds_come_from_the_cache() {
    require_root();
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    write(
        &ctx,
        &[
            ("app/main.sh", "echo main\n"),
            ("app/lib/util.sh", "echo util\n"),
            ("notes.md", "not copied\n"),
            (".dockerignore", "*.md\n"),
            (
                "Dockerfile",
                &format!(
                    "# syntax=docker/dockerfile:1\n\
                     ARG BASE={}\n\
                     FROM ${{BASE}} AS base\n\
                     ENV GREETING=\"hello world\" \\\n    LEVEL=3\n\
                     ARG WHO=nobody\n\
                     RUN echo \"$GREETING from $WHO\" > /greeting && rm /etc/group && mkdir -p /data\n\
                     WORKDIR app\n\
                     COPY --chmod=750 app/ ./\n\
                     COPY * /all/\n\
                     LABEL org.example.kind=test \"with space\"=yes\n\
                     EXPOSE 8000 53/udp\n\
                     VOLUME /data\n\
                     USER app\n\
                     STOPSIGNAL SIGINT\n\
                     HEALTHCHECK --interval=5s --retries=2 CMD test -f /greeting\n\
                     CMD [\"sh\", \"main.sh\"]\n",
                    busybox()
                ),
            ),
        ],
    );
    let ctx_s = ctx.display().to_string();
    let first = env.ok(&["image", "build", "-t", "built:1", "--build-arg", "WHO=rde", "--progress", "plain", &ctx_s]);
    assert!(first.stderr.contains("RUN echo"), "{}", first.stderr);
    let image = inspect(&env, "built:1");
    let config = &image["Config"];
    let env_list: Vec<&str> = config["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env_list.contains(&"GREETING=hello world") && env_list.contains(&"LEVEL=3"), "{env_list:?}");
    assert!(!env_list.iter().any(|e| e.starts_with("WHO=")), "build args stay out of the image: {env_list:?}");
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(config["User"], "app");
    assert_eq!(config["Cmd"], serde_json::json!(["sh", "main.sh"]));
    assert_eq!(config["StopSignal"], "SIGINT");
    assert_eq!(config["Labels"]["org.example.kind"], "test");
    assert_eq!(config["Labels"]["with space"], "yes");
    assert!(config["ExposedPorts"].get("8000/tcp").is_some() && config["ExposedPorts"].get("53/udp").is_some(), "{}", config["ExposedPorts"]);
    assert!(config["Volumes"].get("/data").is_some());
    assert_eq!(config["Healthcheck"]["Test"], serde_json::json!(["CMD-SHELL", "test -f /greeting"]));
    assert_eq!(config["Healthcheck"]["Interval"], 5_000_000_000u64);
    // The files: RUN's changes (a whiteout hides the base's /etc/group), COPY's modes, .dockerignore.
    let out = env
        .ok(&[
            "container",
            "run",
            "--rm",
            "-u",
            "root",
            "built:1",
            "sh",
            "-c",
            "cat /greeting; ls /etc/group 2>&1; stat -c '%a %n' /app/main.sh /app/lib/util.sh; ls /all",
        ])
        .stdout;
    assert!(out.contains("hello world from rde"), "{out}");
    assert!(out.contains("No such file"), "the whiteout hides /etc/group: {out}");
    assert!(out.contains("750 /app/main.sh") && out.contains("750 /app/lib/util.sh"), "{out}");
    assert!(!out.contains("notes.md") && out.contains("Dockerfile"), "{out}");
    assert_eq!(env.ok(&["container", "run", "--rm", "-u", "root", "built:1"]).stdout, "main\n");

    // Nothing changed: every step from the cache, the same image.
    let again = env.ok(&["image", "build", "-t", "built:2", "--build-arg", "WHO=rde", "--progress", "plain", &ctx_s]);
    assert!(!again.stderr.contains("DONE"), "no step runs again:\n{}", again.stderr);
    assert!(again.stderr.contains("CACHED"), "{}", again.stderr);
    assert_eq!(inspect(&env, "built:2")["Id"], image["Id"]);
    // An ignored file changes: still cached. A copied one changes: COPY runs again, RUN does not.
    write(&ctx, &[("notes.md", "changed\n")]);
    let ignored = env.ok(&["image", "build", "-t", "built:3", "--build-arg", "WHO=rde", "--progress", "plain", &ctx_s]);
    assert!(!ignored.stderr.contains("DONE"), "{}", ignored.stderr);
    write(&ctx, &[("app/main.sh", "echo changed\n")]);
    let changed = env.ok(&["image", "build", "-t", "built:4", "--build-arg", "WHO=rde", "--progress", "plain", &ctx_s]);
    let done: Vec<&str> = changed.stderr.lines().filter(|l| l.contains(" DONE ")).collect();
    assert_eq!(done.len(), 2, "both COPY steps run again (COPY * takes app/ too), nothing else:\n{}", changed.stderr);
    assert_eq!(env.ok(&["container", "run", "--rm", "-u", "root", "built:4"]).stdout, "changed\n");
    // A different build arg runs the RUN again.
    let other = env.ok(&["image", "build", "-t", "built:5", "--build-arg", "WHO=else", "--progress", "plain", &ctx_s]);
    assert!(other.stderr.lines().any(|l| l.contains("RUN echo")) && other.stderr.matches(" DONE ").count() >= 3, "{}", other.stderr);
    // --no-cache runs everything, and the image still works.
    let fresh = env.ok(&["image", "build", "-t", "built:6", "--no-cache", "--build-arg", "WHO=rde", "--progress", "plain", &ctx_s]);
    assert!(!fresh.stderr.lines().any(|l| l.contains("CACHED") && !l.starts_with("#1 ")), "only the base image is not built again:\n{}", fresh.stderr);
    // `image ls` lists it; `builder prune --all` takes the cache but not the images' layers.
    assert!(env.ok(&["image", "ls"]).stdout.contains("built"));
    env.ok(&["builder", "prune", "--all", "--force"]);
    assert_eq!(env.ok(&["container", "run", "--rm", "-u", "root", "built:6"]).stdout, "changed\n");
    assert_nothing_left(&env);
}

#[test]
fn the_seeds_dockerfile_installs_from_apt_and_pip() {
    require_root();
    let mirror = std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test, which serves the package mirror");
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    // As in the seed documents: their Dockerfile, with the test images' names.
    write(
        &ctx,
        &[
            ("requirements.txt", "Django==4.2.30\npsycopg2-binary==2.9.10\n"),
            (
                "Dockerfile",
                &format!(
                    "FROM {}\n\
                     ENV PYTHONDONTWRITEBYTECODE=1\n\
                     ENV PYTHONUNBUFFERED=1\n\
                     RUN apt-get update && apt-get -y install \\\n    libpq-dev\n\
                     WORKDIR /app\n\
                     ADD    requirements.txt    /app/\n\
                     RUN    pip install --no-cache-dir -r requirements.txt\n\
                     ADD {mirror}/simple/six/ /app/six-index.html\n\
                     CMD [\"python\", \"-c\", \"import django, psycopg2; print(django.get_version())\"]\n",
                    python()
                ),
            ),
        ],
    );
    let out = env.ok(&["image", "build", "-t", "seed", "--progress", "plain", &ctx.display().to_string()]);
    assert!(out.stderr.contains("Setting up libpq-dev"), "apt installed from the mirror:\n{}", out.stderr);
    assert_eq!(env.ok(&["container", "run", "--rm", "--network", "none", "seed"]).stdout.trim(), "4.2.30");
    let files = env
        .ok(&["container", "run", "--rm", "--network", "none", "seed", "sh", "-c", "ls /usr/include/postgresql/libpq-fe.h; stat -c '%a' /app/six-index.html"])
        .stdout;
    assert!(files.contains("libpq-fe.h") && files.contains("600"), "{files}");
    // A rebuild asks the mirror only whether the ADD URL changed, and runs nothing.
    let again = env.ok(&["image", "build", "-t", "seed", "--progress", "plain", &ctx.display().to_string()]);
    assert!(!again.stderr.contains(" DONE "), "{}", again.stderr);
    assert_nothing_left(&env);
}

#[test]
fn a_step_without_network_reaches_nothing() {
    require_root();
    let mirror = std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test");
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    let fetch = format!("python3 -c \"import urllib.request; urllib.request.urlopen('{mirror}/debian/Release', timeout=5)\"");
    write(&ctx, &[("Dockerfile", &format!("FROM {}\nRUN {fetch} && echo reached\nRUN --network=none {fetch}\n", python()))]);
    let out = env.fails(&["image", "build", "-t", "nonet", "--progress", "plain", &ctx.display().to_string()]);
    let reached = |stderr: &str| stderr.lines().any(|l| l.starts_with("#2 ") && l.split_whitespace().count() == 3 && l.ends_with(" reached"));
    assert!(reached(&out.stderr), "the default network reaches the mirror:\n{}", out.stderr);
    assert!(out.stderr.contains("Dockerfile:3: RUN --network=none"), "{}", out.stderr);
    // The whole build without network: the first step fails already.
    let out = env.fails(&["image", "build", "--network", "none", "--no-cache", "--progress", "plain", &ctx.display().to_string()]);
    assert!(out.stderr.contains("Dockerfile:2:") && !reached(&out.stderr), "{}", out.stderr);
    assert_nothing_left(&env);
}

#[test]
fn a_failing_step_says_where_and_leaves_nothing() {
    require_root();
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    write(&ctx, &[("Dockerfile", &format!("FROM {}\nRUN echo first\nRUN echo 'about to fail' && echo oops >&2 && exit 3\n", busybox()))]);
    let before = env.layer_dirs().len();
    let out = env.fails(&["image", "build", "-t", "broken", "--progress", "plain", &ctx.display().to_string()]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("Dockerfile:3: RUN echo 'about to fail'"), "{}", out.stderr);
    assert!(out.stderr.contains("exit code 3"), "{}", out.stderr);
    assert!(out.stderr.contains("oops"), "the step's last output is in the error: {}", out.stderr);
    assert!(env.run(&["image", "inspect", "broken"]).code != 0, "no image is tagged");
    assert!(env.layer_dirs().len() <= before + 2, "only the base and the first step's layers");
    assert_nothing_left(&env);
}

#[test]
fn bad_input_names_the_file_line_and_what() {
    require_root();
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    write(&ctx, &[("secret.key", "x"), (".dockerignore", "# keys\n*.key\n")]);
    let build = |dockerfile: &str| {
        write(&ctx, &[("Dockerfile", dockerfile)]);
        env.fails(&["image", "build", "--progress", "plain", &ctx.display().to_string()]).stderr
    };
    let e = build(&format!("FROM {}\nRUNN true\n", busybox()));
    assert!(e.contains("Dockerfile:2:1: unknown instruction"), "{e}");
    let e = build(&format!("FROM {}\nCOPY --chwon=1 a /b\n", busybox()));
    assert!(e.contains("Dockerfile:2") && e.contains("unknown flag: --chwon"), "{e}");
    let e = build(&format!("FROM {}\nCOPY missing.txt /\n", busybox()));
    assert!(e.contains("Dockerfile:2: COPY") && e.contains("\"missing.txt\" is not in the build context"), "{e}");
    let e = build(&format!("FROM {}\nCOPY secret.key /\n", busybox()));
    assert!(e.contains("excluded by .dockerignore line 2"), "{e}");
    let e = build(&format!("FROM {}\nCOPY ../../etc/passwd /\n", busybox()));
    assert!(e.contains("outside the build context"), "{e}");
    let e = build(&format!("FROM {}/library/no-such-image\nRUN true\n", shared_registry()));
    assert!(e.contains("no-such-image"), "{e}");
    write(&ctx, &[("Dockerfile", &format!("FROM {}\n", busybox()))]);
    let e = env.fails(&["image", "build", "--target", "nope", &ctx.display().to_string()]).stderr;
    assert!(e.contains("target stage \"nope\" not found"), "{e}");
    assert_nothing_left(&env);
}

#[test]
fn stages_heredocs_mounts_and_secrets() {
    require_root();
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    let secret = env.dir.path().join("token.txt");
    std::fs::write(&secret, "s3cret").unwrap();
    write(
        &ctx,
        &[
            ("src/a.txt", "A"),
            (
                "Dockerfile",
                &format!(
                    "FROM {bb} AS build\n\
                     RUN mkdir -p /out && echo built > /out/result\n\
                     RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/count; wc -l < /cache/count > /out/runs'\n\
                     RUN --mount=type=secret,id=token cat /run/secrets/token > /out/secret-seen\n\
                     RUN --mount=type=bind,source=src,target=/src cp /src/a.txt /out/a.txt\n\
                     RUN <<EOF\n\
                     echo one > /out/heredoc\n\
                     echo two >> /out/heredoc\n\
                     EOF\n\
                     \n\
                     FROM {bb}\n\
                     COPY --from=build /out/ /result/\n\
                     COPY <<EOF /result/inline.txt\n\
                     inline $HOSTNAME\n\
                     EOF\n\
                     ENTRYPOINT [\"cat\"]\n\
                     CMD [\"/result/result\"]\n",
                    bb = busybox()
                ),
            ),
        ],
    );
    let ctx_s = ctx.display().to_string();
    let secret_arg = format!("id=token,src={}", secret.display());
    env.ok(&["image", "build", "-t", "multi", "--secret", &secret_arg, "--progress", "plain", &ctx_s]);
    assert_eq!(env.ok(&["container", "run", "--rm", "multi"]).stdout, "built\n");
    let out = env
        .ok(&[
            "container",
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            "multi",
            "-c",
            "cat /result/runs /result/secret-seen /result/a.txt /result/heredoc /result/inline.txt; ls /run/secrets 2>&1; true",
        ])
        .stdout;
    assert!(out.contains("1\ns3cret"), "{out}");
    assert!(out.contains("A") && out.contains("one\ntwo\n") && out.contains("inline \n"), "{out}");
    assert!(out.contains("No such file"), "the secret's mount point is not in the image: {out}");
    // The cache mount keeps its content between builds.
    env.ok(&["image", "build", "-t", "multi2", "--no-cache", "--secret", &secret_arg, "--progress", "plain", &ctx_s]);
    let runs = env.ok(&["container", "run", "--rm", "multi2", "/result/runs"]).stdout;
    assert_eq!(runs.trim(), "2");
    // --target builds one stage.
    env.ok(&["image", "build", "-t", "only-build", "--target", "build", "--secret", &secret_arg, &ctx_s]);
    assert_eq!(env.ok(&["container", "run", "--rm", "only-build", "cat", "/out/result"]).stdout, "built\n");
    // A secret that is missing fails the step that needs it.
    let e = env.fails(&["image", "build", "--no-cache", &ctx_s]).stderr;
    assert!(e.contains("secret") && e.contains("token"), "{e}");
    assert_nothing_left(&env);
}

#[test]
fn ctrl_c_stops_the_build_and_cleans_up() {
    require_root();
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    write(&ctx, &[("Dockerfile", &format!("FROM {}\nRUN echo started && sleep 60\n", busybox()))]);
    env.ok(&["image", "pull", "-q", &busybox()]);
    let mut child = env
        .command(&["image", "build", "-t", "interrupted", "--progress", "plain", &ctx.display().to_string()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Once the step runs, Ctrl-C (SIGINT to rde, as a terminal sends it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let line = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the step starts");
        if line.ends_with(" started") {
            break;
        }
        assert!(std::time::Instant::now() < deadline);
    }
    let started = std::time::Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "the step was stopped, not waited for");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("interrupted")), "{rest:?}");
    assert!(env.run(&["image", "inspect", "interrupted"]).code != 0);
    assert_nothing_left(&env);
}

#[test]
fn run_steps_take_ulimits_and_shm_size() {
    require_root();
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    write(&ctx, &[("Dockerfile", &format!("FROM {}\nRUN ulimit -n > /nofile && df -k /dev/shm | tail -1 | awk '{{print $2}}' > /shm\n", busybox()))]);
    env.ok(&["image", "build", "-t", "limits", "--ulimit", "nofile=1234:1234", "--shm-size", "32m", &ctx.display().to_string()]);
    let out = env.ok(&["container", "run", "--rm", "limits", "cat", "/nofile", "/shm"]).stdout;
    assert_eq!(out, "1234\n32768\n");
    let e = env.fails(&["image", "build", "--ulimit", "nofile", &ctx.display().to_string()]).stderr;
    assert!(e.contains("invalid --ulimit"), "{e}");
}

#[test]
fn named_contexts_and_bind_mounts_are_inputs_of_the_cache() {
    require_root();
    let env = Env::new();
    let ctx = env.dir.path().join("ctx");
    let extra = env.dir.path().join("extra");
    write(&extra, &[("lib/version.txt", "1\n")]);
    write(
        &ctx,
        &[
            ("req.txt", "a\n"),
            (
                "Dockerfile",
                &format!(
                    "FROM {}\nCOPY --from=vendor lib/version.txt /vendor-version\nRUN --mount=type=bind,source=req.txt,target=/req cat /req > /req-seen\nRUN --mount=type=bind,from=vendor,source=lib,target=/lib2 cat /lib2/version.txt > /mounted-version\n",
                    busybox()
                ),
            ),
        ],
    );
    let build = |tag: &str| {
        let context = format!("vendor={}", extra.display());
        env.ok(&["image", "build", "-t", tag, "--build-context", &context, "--progress", "plain", &ctx.display().to_string()]).stderr
    };
    build("named:1");
    let out = env.ok(&["container", "run", "--rm", "named:1", "cat", "/vendor-version", "/req-seen", "/mounted-version"]).stdout;
    assert_eq!(out, "1\na\n1\n");
    // Nothing changed: all cached. A bind-mounted file changes: that RUN runs again.
    assert!(!build("named:2").contains(" DONE "));
    write(&ctx, &[("req.txt", "b\n")]);
    let out = build("named:3");
    assert!(out.contains("RUN --mount=type=bind,source=req.txt") && out.matches(" DONE ").count() == 2, "{out}");
    // The named context changes: COPY --from and the RUN mounting it run again.
    write(&extra, &[("lib/version.txt", "2\n")]);
    build("named:4");
    assert_eq!(env.ok(&["container", "run", "--rm", "named:4", "cat", "/vendor-version", "/mounted-version"]).stdout, "2\n2\n");
}

#[test]
fn the_same_inputs_and_source_date_epoch_give_the_same_image_in_two_stores() {
    require_root();
    let work = tempfile::tempdir().unwrap();
    let ctx = work.path().join("ctx");
    write(
        &ctx,
        &[
            ("app/main.sh", "echo main\n"),
            (
                "Dockerfile",
                &format!("FROM {}\nWORKDIR /app\nCOPY app/ /app/\nRUN mkdir -p /data && echo built > /data/out && touch /data/new\nENV MODE=prod\n", busybox()),
            ),
        ],
    );
    let build = |env: &Env, extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["image", "build", "-q", "-t", "repro:1"];
        args.extend_from_slice(extra);
        let c = ctx.to_str().unwrap();
        args.push(c);
        env.ok(&args);
        inspect(env, "repro:1")
    };
    let (one, two) = (Env::new(), Env::new());
    let a = build(&one, &["--source-date-epoch", "1700000000"]);
    // Another second, other mtimes on disk: the same image all the same.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(ctx.join("app/main.sh"), "echo main\n").unwrap();
    let mut two_env = two;
    two_env.extra_env.push(("SOURCE_DATE_EPOCH".into(), "1700000000".into()));
    let b = build(&two_env, &[]);
    assert_eq!(a["Id"], b["Id"], "{a}\n{b}");
    assert_eq!(a["RootFS"], b["RootFS"]);
    assert_eq!(a["Created"], "2023-11-14T22:13:20Z", "{a}");
    // Saved, the two are the same archive, byte for byte.
    let (sa, sb) = (work.path().join("a.tar"), work.path().join("b.tar"));
    one.ok(&["image", "save", "-o", sa.to_str().unwrap(), "repro:1"]);
    two_env.ok(&["image", "save", "-o", sb.to_str().unwrap(), "repro:1"]);
    assert!(std::fs::read(&sa).unwrap() == std::fs::read(&sb).unwrap(), "the two stores' archives differ");
    // Another epoch is another image; a bad one is named.
    let c = build(&one, &["--source-date-epoch", "1700000001"]);
    assert_ne!(a["Id"], c["Id"]);
    two_env.extra_env.push(("SOURCE_DATE_EPOCH".into(), "yesterday".into()));
    let out = two_env.fails(&["image", "build", "-q", ctx.to_str().unwrap()]);
    assert!(out.stderr.contains("SOURCE_DATE_EPOCH") && out.stderr.contains("unix seconds"), "{}", out.stderr);
    assert_nothing_left(&one);
    assert_nothing_left(&two_env);
}
