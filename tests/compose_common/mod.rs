//! Shared helpers for the integration tests: load a fixture project with a controlled
//! environment and compare rendered output with an expected file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rde::compose::{ComposeError, ConfigFormat, Project, ProjectOptions, load_project, render_config};

pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose").join(relative)
}

/// Options for a project in `dir` with an environment holding only `env` (and HOME).
pub fn options(dir: &Path, files: &[&str], env: &[(&str, &str)]) -> ProjectOptions {
    let mut environment: IndexMap<String, String> = IndexMap::new();
    environment.insert("HOME".into(), "/home/dev".into());
    for (k, v) in env {
        environment.insert(k.to_string(), v.to_string());
    }
    ProjectOptions { files: files.iter().map(PathBuf::from).collect(), interpolate: true, environment, working_dir: dir.to_path_buf(), ..Default::default() }
}

pub fn load(dir: &Path, files: &[&str], env: &[(&str, &str)]) -> Result<Project, ComposeError> {
    load_project(&options(dir, files, env))
}

/// The config output with the fixture's absolute path replaced by `<FIXTURE>`.
pub fn rendered(project: &Project, dir: &Path, format: ConfigFormat) -> String {
    render_config(project, format).replace(&dir.display().to_string(), "<FIXTURE>")
}

/// Compares with the expected file, or rewrites it when RDE_UPDATE_EXPECTED=1.
pub fn check_expected(actual: &str, expected_path: &Path) {
    if std::env::var("RDE_UPDATE_EXPECTED").as_deref() == Ok("1") {
        std::fs::write(expected_path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(expected_path).unwrap_or_else(|e| panic!("{}: {e} (run with RDE_UPDATE_EXPECTED=1 to create it)", expected_path.display()));
    if actual != expected {
        panic!("{} differs from the rendered output:\n--- expected\n{expected}\n--- actual\n{actual}", expected_path.display());
    }
}

/// A scratch project directory, removed when dropped.
pub struct TempProject {
    pub dir: PathBuf,
}

impl TempProject {
    /// Creates `<tmp>/rde-compose-<test>-<pid>/<name>` holding `files` (path, content).
    pub fn new(test: &str, name: &str, files: &[(&str, &str)]) -> Self {
        let root = std::env::temp_dir().join(format!("rde-compose-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join(name);
        for (path, content) in files {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        TempProject { dir }
    }

    pub fn load(&self, files: &[&str], env: &[(&str, &str)]) -> Result<Project, ComposeError> {
        load(&self.dir, files, env)
    }

    pub fn error(&self, files: &[&str], env: &[(&str, &str)]) -> String {
        match self.load(files, env) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
}

impl Drop for TempProject {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.dir.parent().unwrap());
    }
}
