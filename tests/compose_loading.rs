//! Discovery, variables, merging across files, extends, include, profiles and the typed
//! model, through the public API.

#[path = "compose_common/mod.rs"]
mod common;

use std::time::Duration;

use common::*;
use rde::compose::*;

#[test]
fn discovery_walks_up_and_picks_the_override_file() {
    let p = TempProject::new(
        "discovery",
        "My_App",
        &[
            ("docker-compose.yml", "services:\n  web:\n    image: a\n"),
            ("docker-compose.override.yml", "services:\n  web:\n    image: b\n"),
            ("compose.yaml", "services:\n  web:\n    image: preferred\n"),
            ("deep/er/.keep", ""),
        ],
    );
    let project = load(&p.dir.join("deep/er"), &[], &[]).unwrap();
    // compose.yaml wins over docker-compose.yml; the override next to it is not the same
    // family but compose still takes the first override found.
    assert_eq!(project.files, vec![p.dir.join("compose.yaml"), p.dir.join("docker-compose.override.yml")]);
    assert_eq!(project.services["web"].image.as_deref(), Some("b"));
    assert_eq!(project.name, "my_app");
    assert_eq!(project.working_dir, p.dir);
    assert!(project.warnings.iter().any(|w| w.message.contains("found multiple config files")));
}

#[test]
fn compose_file_variable_and_separator() {
    let p =
        TempProject::new("compose-file", "proj", &[("a.yml", "services:\n  web:\n    image: a\n"), ("b.yml", "services:\n  web:\n    environment: [X=1]\n")]);
    let project = p.load(&[], &[("COMPOSE_FILE", "a.yml;b.yml"), ("COMPOSE_PATH_SEPARATOR", ";")]).unwrap();
    assert_eq!(project.files, vec![p.dir.join("a.yml"), p.dir.join("b.yml")]);
    assert_eq!(project.services["web"].environment["X"].as_deref(), Some("1"));
    // COMPOSE_FILE may also come from .env.
    std::fs::write(p.dir.join(".env"), "COMPOSE_FILE=b.yml:a.yml\n").unwrap();
    let project = p.load(&[], &[]).unwrap();
    assert_eq!(project.files, vec![p.dir.join("b.yml"), p.dir.join("a.yml")]);
}

#[test]
fn stdin_file() {
    let p = TempProject::new("stdin", "fromstdin", &[]);
    let mut opts = options(&p.dir, &["-"], &[]);
    opts.stdin = Some("services:\n  web:\n    image: nginx\n    volumes: [./data:/data]\n".into());
    let project = load_project(&opts).unwrap();
    assert_eq!(project.name, "fromstdin");
    assert_eq!(project.services["web"].volumes[0].source.as_deref(), Some(p.dir.join("data").to_str().unwrap()));
}

#[test]
fn project_name_precedence() {
    let p = TempProject::new("names", "Dir.Name", &[("compose.yaml", "name: from-file\nservices:\n  web:\n    image: x\n")]);
    assert_eq!(p.load(&[], &[]).unwrap().name, "from-file");
    assert_eq!(p.load(&[], &[("COMPOSE_PROJECT_NAME", "from-env")]).unwrap().name, "from-env");
    let mut opts = options(&p.dir, &[], &[("COMPOSE_PROJECT_NAME", "from-env")]);
    opts.project_name = Some("from-flag".into());
    assert_eq!(load_project(&opts).unwrap().name, "from-flag");
    std::fs::write(p.dir.join("compose.yaml"), "services:\n  web:\n    image: x\n").unwrap();
    assert_eq!(p.load(&[], &[]).unwrap().name, "dirname");
    // `name:` may use variables.
    std::fs::write(p.dir.join("compose.yaml"), "name: app-${ENV:-dev}\nservices:\n  web:\n    image: x\n").unwrap();
    assert_eq!(p.load(&[], &[]).unwrap().name, "app-dev");
    // --project-directory changes the default name and where paths resolve.
    std::fs::create_dir_all(p.dir.join("other")).unwrap();
    let mut opts = options(&p.dir, &["compose.yaml"], &[("ENV", "x")]);
    opts.project_directory = Some("other".into());
    let project = load_project(&opts).unwrap();
    assert_eq!((project.name.as_str(), project.working_dir.clone()), ("app-x", p.dir.join("other")));
}

#[test]
fn variables_from_env_files() {
    let p = TempProject::new(
        "envfiles",
        "proj",
        &[
            (
                "compose.yaml",
                "services:\n  web:\n    image: app:${TAG}\n    environment:\n      - A=${A}\n      - B=${B}\n      - FROM_HOST\n      - NOT_SET\n",
            ),
            (".env", "TAG=dotenv\nA=dotenv\nB=dotenv\nFROM_HOST=dotenv\n"),
            ("one.env", "TAG=one\nA=one\n"),
            ("two.env", "A=two\nB=${A}-two\n"),
        ],
    );
    let project = p.load(&[], &[("FROM_HOST", "host")]).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("app:dotenv"));
    assert_eq!(web.environment["FROM_HOST"].as_deref(), Some("host"), "process env wins over .env");
    assert!(!web.environment.contains_key("NOT_SET"), "bare keys without a value are dropped");

    let mut opts = options(&p.dir, &[], &[("B", "host")]);
    opts.env_files = vec!["one.env".into(), "two.env".into()];
    let project = load_project(&opts).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("app:one"), ".env is not read when --env-file is given");
    assert_eq!(web.environment["A"].as_deref(), Some("two"), "later --env-file wins");
    assert_eq!(web.environment["B"].as_deref(), Some("host"), "process env wins over env files");
    assert!(!web.environment.contains_key("FROM_HOST"));
}

#[test]
fn unset_variables_warn_and_no_interpolate_keeps_templates() {
    let p = TempProject::new("nointerp", "proj", &[("compose.yaml", "services:\n  web:\n    image: nginx:${TAG}\n    environment: [KEY]\n")]);
    let project = p.load(&[], &[]).unwrap();
    assert_eq!(project.services["web"].image.as_deref(), Some("nginx:"));
    assert!(project.warnings.iter().any(|w| w.message.contains("\"TAG\" variable is not set")), "{:?}", project.warnings);
    let mut opts = options(&p.dir, &[], &[]);
    opts.interpolate = false;
    let project = load_project(&opts).unwrap();
    assert_eq!(project.services["web"].image.as_deref(), Some("nginx:${TAG}"));
    assert_eq!(project.services["web"].environment.get("KEY"), Some(&None));
}

#[test]
fn env_file_forms() {
    let p = TempProject::new(
        "envfile-forms",
        "proj",
        &[
            (
                "compose.yaml",
                "services:\n  web:\n    image: x\n    env_file:\n      - common.env\n      - path: local.env\n        required: false\n      - path: ./override.env\n    environment:\n      FROM_ENVIRONMENT: yes\n",
            ),
            ("common.env", "A=1\nB=2\nREF=${A}-${HOST_VAR}\n"),
            ("override.env", "B=3\nFROM_ENVIRONMENT=no\n"),
        ],
    );
    let project = p.load(&[], &[("HOST_VAR", "h")]).unwrap();
    let env = &project.services["web"].environment;
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_deref().unwrap())).collect();
    assert_eq!(pairs, vec![("A", "1"), ("B", "3"), ("REF", "1-h"), ("FROM_ENVIRONMENT", "yes")]);
    assert_eq!(project.services["web"].env_files.len(), 3);
    assert!(!project.services["web"].env_files[1].required);
}

#[test]
fn profiles_enable_and_disable_services() {
    let compose = "services:\n  app:\n    image: a\n  debug:\n    image: d\n    profiles: [debug]\n  tool:\n    image: t\n    profiles: [tools]\n    depends_on: [helper]\n  helper:\n    image: h\n    profiles: [helpers]\n";
    let p = TempProject::new("profiles", "proj", &[("compose.yaml", compose)]);
    let names = |project: &Project| project.services.keys().cloned().collect::<Vec<_>>();

    let project = p.load(&[], &[]).unwrap();
    assert_eq!(names(&project), vec!["app"]);
    assert_eq!(project.disabled_services.keys().collect::<Vec<_>>(), vec!["debug", "helper", "tool"]);
    assert_eq!(profile_names(&project), vec!["debug", "helpers", "tools"]);

    let project = p.load(&[], &[("COMPOSE_PROFILES", "debug")]).unwrap();
    assert_eq!(names(&project), vec!["app", "debug"]);

    let mut opts = options(&p.dir, &[], &[("COMPOSE_PROFILES", "debug")]);
    opts.profiles = vec!["*".into()];
    assert_eq!(names(&load_project(&opts).unwrap()), vec!["app", "debug", "helper", "tool"]);

    // A targeted service is enabled with its profile and its dependencies.
    let mut opts = options(&p.dir, &[], &[]);
    opts.services = vec!["tool".into()];
    let project = load_project(&opts).unwrap();
    assert_eq!(names(&project), vec!["app", "helper", "tool"]);
    assert_eq!(project.profiles, vec!["tools", "helpers"]);

    // Depending on a disabled service is an error that says how to enable it.
    let p2 = TempProject::new(
        "profiles-dep",
        "proj",
        &[("compose.yaml", "services:\n  app:\n    image: a\n    depends_on: [db]\n  db:\n    image: d\n    profiles: [db]\n")],
    );
    let err = p2.error(&[], &[]);
    assert!(err.ends_with("services.app.depends_on: depends on service \"db\", which is disabled by its profiles; hint: enable it with --profile db"), "{err}");
}

#[test]
fn extends_in_same_and_other_files() {
    let p = TempProject::new(
        "extends",
        "proj",
        &[
            (
                "compose.yaml",
                "services:\n  base:\n    image: base\n    environment: {A: '1', B: '1'}\n    ports: ['80:80']\n  web:\n    extends: base\n    environment: [B=2]\n    ports: ['443:443']\n  remote:\n    extends: {file: lib/common.yaml, service: worker}\n",
            ),
            (
                "lib/common.yaml",
                "services:\n  worker:\n    extends: {service: core}\n    command: work\n  core:\n    build: ./ctx\n    volumes: ['./data:/data']\n",
            ),
        ],
    );
    let project = p.load(&[], &[]).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("base"));
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("2"));
    assert_eq!(web.ports.iter().map(|p| p.target).collect::<Vec<_>>(), vec![80, 443]);
    let remote = &project.services["remote"];
    assert_eq!(remote.command, Some(vec!["work".to_string()]));
    // Paths from the other file are relative to that file's directory.
    assert_eq!(remote.build.as_ref().unwrap().context, p.dir.join("lib/ctx").to_str().unwrap());
    assert_eq!(remote.volumes[0].source.as_deref(), Some(p.dir.join("lib/data").to_str().unwrap()));
}

#[test]
fn include_with_its_own_env_and_conflicts() {
    let p = TempProject::new(
        "include",
        "proj",
        &[
            (
                "compose.yaml",
                "include:\n  - path: infra/db.yaml\n    env_file: infra/db.env\n  - infra/cache.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db, cache]\n",
            ),
            ("infra/db.yaml", "services:\n  db:\n    image: postgres:${PG}\n    volumes: [./data:/data]\nvolumes:\n  dbdata: {}\n"),
            ("infra/db.env", "PG=16\n"),
            ("infra/cache.yaml", "services:\n  cache:\n    image: redis\n"),
        ],
    );
    let project = p.load(&[], &[]).unwrap();
    assert_eq!(project.services["db"].image.as_deref(), Some("postgres:16"));
    assert_eq!(project.services["db"].volumes[0].source.as_deref(), Some(p.dir.join("infra/data").to_str().unwrap()));
    assert!(project.volumes.contains_key("dbdata"));
    assert_eq!(service_names(&project), vec!["cache", "db", "web"]);

    let conflict = TempProject::new(
        "include-conflict",
        "proj",
        &[("compose.yaml", "include: [other.yaml]\nservices:\n  db:\n    image: mine\n"), ("other.yaml", "services:\n  db:\n    image: theirs\n")],
    );
    let err = conflict.error(&[], &[]);
    assert!(err.contains("services.db: conflicts with the definition imported by include[0]"), "{err}");
}

#[test]
fn multiple_files_merge_with_override_rules() {
    let p = TempProject::new(
        "multi",
        "proj",
        &[
            (
                "compose.yaml",
                "services:\n  web:\n    image: web:1\n    command: [a]\n    ports: ['80:80']\n    volumes: ['./a:/data', 'logs:/logs']\n    healthcheck:\n      test: [CMD, a]\n      interval: 10s\n    ulimits:\n      nofile: {soft: 1, hard: 2}\n    sysctls: [net.a=1]\nvolumes:\n  logs: {}\n",
            ),
            (
                "compose.prod.yaml",
                "services:\n  web:\n    image: web:2\n    command: b c\n    ports: ['443:443', '80:80']\n    volumes: ['./b:/data']\n    healthcheck:\n      test: curl -f http://localhost\n    ulimits:\n      nproc: 10\n    sysctls: {net.b: '2'}\n",
            ),
        ],
    );
    let project = p.load(&["compose.yaml", "compose.prod.yaml"], &[]).unwrap();
    let web = &project.services["web"];
    assert_eq!(web.image.as_deref(), Some("web:2"));
    assert_eq!(web.command, Some(vec!["b".to_string(), "c".to_string()]));
    assert_eq!(web.ports.iter().map(|p| p.target).collect::<Vec<_>>(), vec![80, 443]);
    assert_eq!(web.volumes.len(), 2);
    assert_eq!(web.volumes[0].source.as_deref(), Some(p.dir.join("b").to_str().unwrap()));
    let check = web.healthcheck.as_ref().unwrap();
    assert_eq!(check.test, Some(vec!["CMD-SHELL".to_string(), "curl -f http://localhost".to_string()]));
    assert_eq!(check.interval, Some(Duration::from_secs(10)));
    assert_eq!(web.ulimits.keys().collect::<Vec<_>>(), vec!["nofile", "nproc"]);
    assert_eq!(web.sysctls.len(), 2);
}

#[test]
fn long_syntaxes_become_typed_values() {
    let compose = r#"
x-common: &common
  restart: "on-failure:5"
services:
  app:
    <<: *common
    image: app
    x-note: ignored
    command: 'sh -c "echo hello && sleep 1"'
    entrypoint: ["/init"]
    ports:
      - target: 80
        published: 8080-8081
        protocol: udp
      - "127.0.0.1::53/udp"
    volumes:
      - type: bind
        source: ./src
        target: /src
        bind: {create_host_path: false, propagation: rslave}
      - type: tmpfs
        target: /cache
        tmpfs: {size: 1g, mode: 1777}
    depends_on:
      db: {condition: service_completed_successfully, required: false}
      ghost: {condition: service_started, required: false}
    networks:
      back: {aliases: [a1], ipv4_address: 10.0.0.5}
    healthcheck:
      test: ["NONE"]
      start_interval: 2s
    ulimits: {nofile: 1024}
    extra_hosts: {db.local: 10.0.0.2, multi: [10.0.0.3, 10.0.0.4]}
    labels: [a=b, c]
    deploy:
      replicas: 3
      resources:
        limits: {cpus: 1.5, memory: 1g, pids: 100}
      placement: {constraints: [node.role==manager]}
    shm_size: 64m
    mem_limit: 2g
    cpus: 0.75
    stop_grace_period: 45s
    cap_add: [NET_ADMIN]
    devices: ["/dev/fuse"]
    tmpfs: /run
    dns: 1.1.1.1
    init: true
    tty: true
    stdin_open: true
    oom_score_adj: 100
  db:
    image: db
    network_mode: host
networks:
  back: {driver: bridge, labels: [team=x]}
"#;
    let p = TempProject::new("long", "proj", &[("compose.yaml", compose)]);
    let project = p.load(&[], &[]).unwrap();
    let app = &project.services["app"];
    assert_eq!(app.restart.as_deref(), Some("on-failure:5"));
    assert_eq!(app.command.as_ref().unwrap(), &["sh", "-c", "echo hello && sleep 1"].map(String::from).to_vec());
    assert_eq!(app.ports[0].published, Some(PortRange { start: 8080, end: 8081 }));
    assert_eq!(app.ports[0].protocol, "udp");
    assert_eq!((app.ports[1].host_ip.as_deref(), app.ports[1].published), (Some("127.0.0.1"), None));
    assert!(!app.volumes[0].bind.as_ref().unwrap().create_host_path);
    assert_eq!(app.volumes[1].tmpfs, Some(TmpfsOptions { size: Some(1 << 30), mode: Some(1777) }));
    assert_eq!(app.depends_on["db"].condition, DependencyCondition::ServiceCompletedSuccessfully);
    assert!(!app.depends_on.contains_key("ghost"), "optional missing dependency dropped with a warning");
    assert_eq!(app.networks["back"].as_ref().unwrap().ipv4_address.as_deref(), Some("10.0.0.5"));
    assert_eq!(app.healthcheck.as_ref().unwrap().start_interval, Some(Duration::from_secs(2)));
    assert_eq!(app.ulimits["nofile"], Ulimit { soft: 1024, hard: 1024, single: true });
    assert_eq!(app.extra_hosts["multi"], vec!["10.0.0.3", "10.0.0.4"]);
    assert_eq!(app.labels["c"], "");
    let deploy = app.deploy.as_ref().unwrap();
    assert_eq!(deploy.replicas, Some(3));
    assert_eq!(deploy.resources.limits.as_ref().unwrap().memory, Some(1 << 30));
    assert_eq!(app.shm_size, Some(64 << 20));
    assert_eq!(app.stop_grace_period, Some(Duration::from_secs(45)));
    assert_eq!(app.devices[0], DeviceMapping { source: "/dev/fuse".into(), target: "/dev/fuse".into(), permissions: "rwm".into() });
    assert_eq!(app.tmpfs, vec!["/run"]);
    assert_eq!(project.services["db"].network_mode, Some(NetworkMode::Host));
    assert!(project.services["db"].networks.is_empty());
    assert_eq!(project.networks["back"].labels["team"], "x");
    // Accepted but not runnable by rde: kept and reported.
    assert_eq!(app.extra["oom_score_adj"], serde_json::json!(100));
    let fields: Vec<_> = project.warnings.iter().filter_map(|w| w.field.clone()).collect();
    assert!(fields.contains(&"services.app.oom_score_adj".to_string()), "{fields:?}");
    assert!(fields.contains(&"services.app.deploy.placement".to_string()), "{fields:?}");
    assert!(fields.contains(&"services.app.depends_on".to_string()), "{fields:?}");

    let yaml = render_config(&project, ConfigFormat::Yaml);
    assert!(yaml.contains("      - mode: ingress\n        target: 80\n        published: 8080-8081\n        protocol: udp\n"), "{yaml}");
    assert!(yaml.contains("    stop_grace_period: 45s\n"));
    assert!(yaml.contains("    network_mode: host\n"));
}

#[test]
fn listing_helpers() {
    let p = TempProject::new(
        "listing",
        "proj",
        &[(
            "compose.yaml",
            "services:\n  web:\n    build: .\n    depends_on: [db]\n  db:\n    image: postgres\n    volumes: [data:/d]\n  adm:\n    image: adminer\n    profiles: [dbg]\nvolumes:\n  data: {}\n  cache: {}\n",
        )],
    );
    let project = p.load(&[], &[]).unwrap();
    assert_eq!(service_names(&project), vec!["db", "web"]);
    assert_eq!(volume_names(&project), vec!["data", "cache"]);
    assert_eq!(profile_names(&project), vec!["dbg"]);
    assert_eq!(image_names(&project), vec!["postgres", "proj-web"]);
    let json: serde_json::Value = serde_json::from_str(&render_config(&project, ConfigFormat::Json)).unwrap();
    assert_eq!(json["services"]["web"]["command"], serde_json::Value::Null);
    assert_eq!(json["networks"]["default"]["name"], "proj_default");
}
