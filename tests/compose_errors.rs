//! Error messages name the file, line, column and field, with hints.

#[path = "compose_common/mod.rs"]
mod common;

use common::TempProject;

fn error_for(test: &str, compose: &str) -> String {
    TempProject::new(test, "proj", &[("compose.yaml", compose)]).error(&[], &[])
}

#[test]
fn misspelt_key_suggests_the_right_one() {
    let err = error_for("misspelt", "services:\n  web:\n    imgae: nginx\n");
    assert_eq!(err, "compose.yaml:3:5: services.web.imgae: unknown attribute; hint: did you mean `image`?");
    let err = error_for("misspelt2", "services:\n  web:\n    image: nginx\n    enviroment:\n      A: 1\n");
    assert_eq!(err, "compose.yaml:4:5: services.web.enviroment: unknown attribute; hint: did you mean `environment`?");
    let err = error_for("misspelt3", "service:\n  web:\n    image: nginx\n");
    assert_eq!(err, "compose.yaml:1:1: service: unknown attribute; hint: did you mean `services`?");
    let err = error_for("unknown", "services:\n  web:\n    image: nginx\n    frobnicate: true\n");
    assert_eq!(err, "compose.yaml:4:5: services.web.frobnicate: unknown attribute");
}

#[test]
fn wrong_type_gets_a_hint() {
    let err = error_for("ports-int", "services:\n  web:\n    image: nginx\n    ports: 8000\n");
    assert_eq!(err, "compose.yaml:4:12: services.web.ports: must be a list, got the number 8000; hint: write a list such as `ports: [\"8000:8000\"]`");
    let err = error_for("user-int", "services:\n  web:\n    image: nginx\n    user: 1000\n");
    assert_eq!(err, "compose.yaml:4:11: services.web.user: must be a string, got the number 1000; hint: quote it: user: \"1000\"");
    let err = error_for("bad-port", "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:http\"\n");
    assert_eq!(err, "compose.yaml:5:9: services.web.ports[0]: invalid port \"http\" in port \"80:http\"; hint: use \"HOST:CONTAINER\" such as \"8000:8000\"");
    let err = error_for("bad-duration", "services:\n  web:\n    image: nginx\n    healthcheck:\n      interval: 30\n");
    assert!(err.starts_with("compose.yaml:5:17: services.web.healthcheck.interval: must be a string, got the number 30"), "{err}");
    let err = error_for("restart", "services:\n  web:\n    image: nginx\n    restart: sometimes\n");
    assert_eq!(
        err,
        "compose.yaml:4:14: services.web.restart: invalid restart policy \"sometimes\"; hint: use \"no\", always, on-failure[:max-retries] or unless-stopped"
    );
    // YAML 1.2, like compose: `no` is the string "no", a valid policy.
    let ok = TempProject::new("restart-no", "proj", &[("compose.yaml", "services:\n  web:\n    image: nginx\n    restart: no\n")]);
    assert_eq!(ok.load(&[], &[]).unwrap().services["web"].restart.as_deref(), Some("no"));
}

#[test]
fn missing_required_variable_names_variable_and_message() {
    let err =
        error_for("required", "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}\n");
    assert_eq!(err, "compose.yaml:5:26: services.db.environment.POSTGRES_PASSWORD: required variable DB_PASSWORD is missing a value: set DB_PASSWORD in .env");
    let err = error_for("bad-template", "services:\n  db:\n    image: postgres:${TAG:x}\n");
    assert!(err.starts_with("compose.yaml:3:12: services.db.image: invalid interpolation format \"postgres:${TAG:x}\""), "{err}");
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let err = error_for("syntax", "services:\n  web:\n    image: nginx\n   ports: [\"80:80\"]\n");
    assert!(err.starts_with("compose.yaml:4:"), "{err}");
    assert!(err.contains("YAML syntax error"), "{err}");
    let err = error_for("dup", "services:\n  web:\n    image: nginx\n    image: httpd\n");
    assert_eq!(err, "compose.yaml:4:5: YAML syntax error: mapping key \"image\" already defined at line 3");
    let err = error_for("empty", "");
    assert_eq!(err, "compose.yaml:1:1: (top level): empty compose file");
}

#[test]
fn unknown_service_in_depends_on() {
    let err = error_for("depends", "services:\n  web:\n    image: nginx\n    depends_on:\n      - dbb\n  db:\n    image: postgres\n");
    assert_eq!(err, "compose.yaml:5:9: services.web.depends_on: depends on undefined service \"dbb\"; hint: did you mean `db`?");
}

#[test]
fn dependency_cycle() {
    let err = error_for(
        "cycle",
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
    );
    assert_eq!(err, "dependency cycle detected: a -> b -> c -> a");
}

#[test]
fn extends_cycle_is_rejected() {
    let project = TempProject::new(
        "extends-cycle",
        "proj",
        &[
            ("compose.yaml", "services:\n  web:\n    image: x\n    extends: base\n  base:\n    extends:\n      file: other.yaml\n      service: root\n"),
            ("other.yaml", "services:\n  root:\n    image: y\n    extends:\n      file: compose.yaml\n      service: web\n"),
        ],
    );
    let err = project.error(&[], &[]);
    assert_eq!(err, "compose.yaml:4:14: circular reference in extends: compose.yaml:web -> compose.yaml:base -> other.yaml:root -> compose.yaml:web");
    let err = error_for("extends-self", "services:\n  web:\n    image: x\n    extends: web\n");
    assert_eq!(err, "compose.yaml:4:14: circular reference in extends: compose.yaml:web -> compose.yaml:web");
}

#[test]
fn include_cycle_is_rejected() {
    let project = TempProject::new(
        "include-cycle",
        "proj",
        &[
            ("compose.yaml", "include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: x\n"),
            ("sub/compose.yaml", "include:\n  - ../compose.yaml\nservices:\n  db:\n    image: y\n"),
        ],
    );
    let err = project.error(&[], &[]);
    assert!(err.contains("include cycle detected: compose.yaml -> sub/compose.yaml -> compose.yaml"), "{err}");
}

#[test]
fn undefined_references() {
    let err = error_for("volume", "services:\n  db:\n    image: postgres\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n");
    assert_eq!(
        err,
        "compose.yaml:5:9: services.db.volumes: refers to undefined volume \"pgdata\"; hint: declare it under the top-level `volumes:` (pgdata: {}), or write ./pgdata for a directory"
    );
    let err = error_for("network", "services:\n  web:\n    image: nginx\n    networks: [frontent]\nnetworks:\n  frontend: {}\n");
    assert_eq!(err, "compose.yaml:4:16: services.web.networks: refers to undefined network \"frontent\"; hint: did you mean `frontend`?");
    let err = error_for("secret", "services:\n  web:\n    image: nginx\n    secrets: [token]\n");
    assert!(err.contains("services.web.secrets: refers to undefined secret \"token\""), "{err}");
    let err = error_for("no-image", "services:\n  web:\n    ports: [\"80:80\"]\n");
    assert!(err.contains("services.web: has neither an image nor a build context specified"), "{err}");
}

#[test]
fn missing_files_are_named() {
    let project = TempProject::new("missing", "proj", &[("compose.yaml", "services:\n  web:\n    image: x\n    env_file: missing.env\n")]);
    let err = project.error(&["nope.yaml"], &[]);
    assert!(err.starts_with("nope.yaml: cannot read compose file: No such file or directory"), "{err}");
    let err = project.error(&[], &[]);
    assert!(err.ends_with("missing.env: env file not found (referenced by services.web.env_file)"), "{err}");
    let empty = TempProject::new("nothing", "proj", &[]);
    let err = empty.error(&[], &[]);
    assert!(err.starts_with("no configuration file provided: not found"), "{err}");
}

#[test]
fn invalid_project_names() {
    let project = TempProject::new("bad-name", "proj", &[("compose.yaml", "name: My Project\nservices:\n  web:\n    image: x\n")]);
    let err = project.error(&[], &[]);
    assert!(err.starts_with("compose.yaml:1:7: name: invalid project name \"My Project\""), "{err}");
}
