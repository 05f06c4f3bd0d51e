//! The compose files from the two blog posts in shared/seeds load and normalise to what
//! `docker compose config` (v2) prints.

#[path = "compose_common/mod.rs"]
mod common;

use common::*;
use rde::compose::{ConfigFormat, MountType, NetworkMode, image_names, service_names};

#[test]
fn djangosample_v1_renders_like_compose_v2() {
    let dir = fixture("seeds/djangosample");
    let project = load(&dir, &["docker-compose.v1.yml"], &[]).unwrap();
    assert_eq!(project.name, "djangosample");
    check_expected(&rendered(&project, &dir, ConfigFormat::Yaml), &dir.join("docker-compose.v1.expected.yaml"));
    check_expected(&rendered(&project, &dir, ConfigFormat::Json), &dir.join("docker-compose.v1.expected.json"));

    // The typed model is what rde will run.
    let django = &project.services["django"];
    assert_eq!(django.command.as_deref(), Some(&["python manage.py runserver 0:8000".to_string()][..]));
    assert_eq!(django.ports[0].target, 8000);
    assert_eq!(django.ports[0].published.map(|p| p.start), Some(8000));
    assert_eq!(django.volumes[0].kind, MountType::Bind);
    assert_eq!(django.volumes[0].source.as_deref(), Some(dir.to_str().unwrap()));
    assert_eq!(django.environment["DJANGO_DEBUG"].as_deref(), Some("True"));
    let build = django.build.as_ref().unwrap();
    assert_eq!(build.dockerfile, "./compose/django/Dockerfile-dev");
    assert!(dir.join(&build.context).join(&build.dockerfile).is_file());
    assert_eq!(project.networks["default"].name, "djangosample_default");
    assert_eq!(image_names(&project), vec!["postgres", "djangosample-django"]);
    // `version` is obsolete: accepted with a warning.
    assert!(project.warnings.iter().any(|w| w.field.as_deref() == Some("version")), "{:?}", project.warnings);
}

#[test]
fn djangosample_final_with_named_volume_and_wait_for_it() {
    let dir = fixture("seeds/djangosample");
    let project = load(&dir, &["docker-compose.final.yml"], &[]).unwrap();
    check_expected(&rendered(&project, &dir, ConfigFormat::Yaml), &dir.join("docker-compose.final.expected.yaml"));
    let db = &project.services["db"];
    assert_eq!(db.volumes[0].kind, MountType::Volume);
    assert_eq!(project.volumes["django_sample_db_dev"].name, "djangosample_django_sample_db_dev");
    assert_eq!(project.services["django"].command.as_ref().unwrap()[2], "/wait-for-it.sh db:5432 -t 10\npython manage.py runserver 0:8000\n");
}

#[test]
fn djangosample_excerpts_work_as_override_files() {
    let dir = fixture("seeds/djangosample");
    let project = load(&dir, &["docker-compose.v1.yml", "docker-compose.v3-wait-for-it.yml", "docker-compose.v2-links.yml"], &[]).unwrap();
    check_expected(&rendered(&project, &dir, ConfigFormat::Yaml), &dir.join("docker-compose.v1+excerpts.expected.yaml"));
    let django = &project.services["django"];
    assert_eq!(django.command.as_ref().unwrap()[..2], ["bash".to_string(), "-c".to_string()]);
    assert_eq!(django.links, vec!["db"]);
    assert_eq!(service_names(&project), vec!["db", "django"]);
}

#[test]
fn djangosample_named_volume_excerpt_is_rejected_like_compose() {
    // The post elides the environment with a literal `...`, which is a string, not a list.
    let dir = fixture("seeds/djangosample");
    let err = load(&dir, &["docker-compose.v2-named-volume.yml"], &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "docker-compose.v2-named-volume.yml:14:7: services.db.environment: must be a mapping or a list, got the string \"...\"; hint: write a mapping or a list such as `environment: {KEY: value} or environment: [\"KEY=value\"]`"
    );
    // Alone, the command excerpt has no image: compose refuses it the same way.
    let err = load(&dir, &["docker-compose.v3-wait-for-it.yml"], &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "docker-compose.v3-wait-for-it.yml:2:3: services.django: has neither an image nor a build context specified; hint: add `image: NAME` or `build: .`"
    );
}

#[test]
fn pop_planner_renders_like_compose_v2() {
    let dir = fixture("seeds/pop_planner");
    let project = load(&dir, &["docker-compose.yaml"], &[]).unwrap();
    assert_eq!(project.name, "pop_planner");
    check_expected(&rendered(&project, &dir, ConfigFormat::Yaml), &dir.join("docker-compose.expected.yaml"));
    let django = &project.services["django"];
    assert_eq!(django.command.as_ref().unwrap(), &["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"].map(String::from).to_vec());
    assert_eq!(django.depends_on.keys().collect::<Vec<_>>(), vec!["db"]);
    assert_eq!(project.services["db"].restart.as_deref(), Some("always"));
    assert_eq!(project.volumes["pgdata"].name, "pop_planner_pgdata");
    assert_eq!(django.network_mode, None::<NetworkMode>);
    assert_eq!(service_names(&project), vec!["db", "django"]);
}

#[test]
fn pop_planner_discovered_from_a_subdirectory() {
    // `docker-compose.yaml` is found from backend/ (a parent walk), like `docker compose up`.
    let dir = fixture("seeds/pop_planner");
    let sub = dir.join("backend");
    std::fs::create_dir_all(&sub).unwrap();
    let project = load(&sub, &[], &[]).unwrap();
    assert_eq!(project.name, "pop_planner");
    assert_eq!(project.working_dir, dir);
    assert_eq!(project.files, vec![dir.join("docker-compose.yaml")]);
}

#[test]
fn pop_planner_volumes_excerpt_alone_is_an_error() {
    let dir = fixture("seeds/pop_planner");
    let err = load(&dir, &["docker-compose.volumes-fragment.yaml"], &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "docker-compose.volumes-fragment.yaml:2:7: volumes: must be a mapping, got a list; hint: write a mapping of names such as `volumes: {data: {}}`"
    );
}
