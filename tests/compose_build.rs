//! Compose builds through the real binary (rootful): the first seed's project
//! (examples/djangosample) as its users wrote it, base images from the test
//! registry as the Docker Hub mirror, packages from the test package mirror.

mod common;
use common::*;

#[test]
fn the_first_seeds_project_builds_and_runs_as_written() {
    assert!(is_root(), "the compose suite runs containers; run it as root through scripts/test");
    std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test, which serves the package mirror");
    let mut env = Env::new().with_mirror(&shared_registry());
    let project = copy_djangosample(env.dir.path());
    env.cwd = Some(project.clone());
    djangosample_workflow(&env, &project, &env.root());
}

#[test]
fn rde_build_builds_each_distinct_build_once_and_down_rmi_local_removes_them() {
    assert!(is_root(), "the compose suite runs containers; run it as root through scripts/test");
    let mut env = Env::new().with_mirror(&shared_registry());
    let dir = env.dir.path().join("proj");
    std::fs::create_dir_all(dir.join("docker")).unwrap();
    std::fs::write(dir.join("docker/Dockerfile"), "FROM busybox\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\nCMD [\"cat\", \"/greeting\"]\n").unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  web:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n      args: [GREETING=hi]\n  worker:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n      args: [GREETING=hi]\n    image: shared/worker:dev\n  other:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n      args: [GREETING=ho]\n  plain:\n    image: busybox\n",
    )
    .unwrap();
    env.cwd = Some(dir);
    let out = env.ok(&["build", "--progress", "plain"]);
    // web and worker share one build; other's is another, built beside it with its lines prefixed.
    assert_eq!(out.stderr.lines().filter(|l| l.contains("] RUN echo")).count(), 2, "{}", out.stderr);
    assert!(out.stderr.lines().any(|l| l.starts_with("other #")), "{}", out.stderr);
    let images = env.ok(&["image", "ls"]).stdout;
    assert!(images.contains("proj-web") && images.contains("shared/worker") && images.contains("proj-other"), "{images}");
    // --no-build refuses a missing image; up builds nothing that is there.
    env.ok(&["image", "rm", "proj-web"]);
    let e = env.fails(&["up", "-d", "--no-build", "web"]).stderr;
    assert!(e.contains("--no-build"), "{e}");
    let out = env.ok(&["up", "-d", "web"]);
    assert!(out.stderr.contains("Image proj-web  Built"), "{}", out.stderr);
    let out = env.ok(&["run", "--rm", "worker"]);
    assert_eq!(out.stdout, "hi\n");
    // The Dockerfile changes after the build: `up` says so, with the command that rebuilds.
    let dockerfile = env.cwd.as_ref().unwrap().join("docker/Dockerfile");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(&dockerfile).unwrap().set_modified(later).unwrap();
    let out = env.ok(&["up", "-d", "web"]);
    assert!(out.stderr.contains("service web: image proj-web was built before docker/Dockerfile changed; hint: `rde up --build web`"), "{}", out.stderr);
    env.ok(&["down", "--rmi", "local"]);
    let images = env.ok(&["image", "ls"]).stdout;
    assert!(!images.contains("proj-web") && images.contains("shared/worker"), "{images}");
}

#[test]
fn the_second_seeds_project_builds_and_serves_its_static_files() {
    assert!(is_root(), "the compose suite runs containers; run it as root through scripts/test");
    std::env::var("RDE_TEST_MIRROR").expect("RDE_TEST_MIRROR is not set: run the suite through scripts/test, which serves the package mirror");
    let mut env = Env::new().with_mirror(&shared_registry());
    let project = copy_pop_planner(env.dir.path());
    env.cwd = Some(project.clone());
    pop_planner_workflow(&env, &project, &env.root());
}

#[test]
fn build_secrets_reach_run_mounts_and_stay_out_of_the_image() {
    assert!(is_root(), "the compose suite runs containers; run it as root through scripts/test");
    let mut env = Env::new().with_mirror(&shared_registry());
    let dir = env.dir.path().join("sec");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token.txt"), "s3cret").unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN --mount=type=secret,id=token,required=true wc -c < /run/secrets/token > /seen\nCMD [\"sh\", \"-c\", \"cat /seen; ls /run/secrets 2>&1; true\"]\n").unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  app:\n    build:\n      context: .\n      secrets: [token]\nsecrets:\n  token:\n    file: ./token.txt\n",
    )
    .unwrap();
    env.cwd = Some(dir);
    let out = env.ok(&["build", "--progress", "plain"]);
    assert!(!out.stderr.contains("ignored"), "{}", out.stderr);
    let out = env.ok(&["run", "--rm", "app"]);
    assert!(out.stdout.starts_with("6\n") && out.stdout.contains("No such file"), "{}", out.stdout);
}
