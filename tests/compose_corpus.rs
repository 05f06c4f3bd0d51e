//! Every project in tests/compose/corpus/<name>/ renders to tests/compose/corpus/<name>.expected.yaml.
//! An optional `args` file holds one option per line: `-f FILE`, `--profile P`,
//! `--env-file F`, `-p NAME`, `env KEY=VALUE`, `service NAME`, `cwd SUBDIR`.
//! RDE_UPDATE_EXPECTED=1 rewrites the expected files (review them before committing).

#[path = "compose_common/mod.rs"]
mod common;

use common::*;
use rde::compose::{ConfigFormat, load_project};

#[test]
fn corpus_renders_as_expected() {
    let corpus = fixture("corpus");
    let mut dirs: Vec<_> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "the corpus should hold at least 10 projects");
    let mut failures = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut opts = options(&dir, &[], &[]);
        if let Ok(args) = std::fs::read_to_string(dir.join("args")) {
            for line in args.lines().filter(|l| !l.trim().is_empty()) {
                let (flag, value) = line.split_once(' ').unwrap();
                match flag {
                    "-f" => opts.files.push(value.into()),
                    "--profile" => opts.profiles.push(value.into()),
                    "--env-file" => opts.env_files.push(value.into()),
                    "-p" => opts.project_name = Some(value.into()),
                    "service" => opts.services.push(value.into()),
                    "cwd" => opts.working_dir = dir.join(value),
                    "env" => {
                        let (k, v) = value.split_once('=').unwrap();
                        opts.environment.insert(k.into(), v.into());
                    }
                    other => panic!("{name}/args: unknown option {other}"),
                }
            }
        }
        let result = std::panic::catch_unwind(|| {
            let project = load_project(&opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            check_expected(&rendered(&project, &dir, ConfigFormat::Yaml), &corpus.join(format!("{name}.expected.yaml")));
        });
        if result.is_err() {
            failures.push(name);
        }
    }
    assert!(failures.is_empty(), "corpus projects that differ: {failures:?}");
}
