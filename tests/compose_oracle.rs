//! `rde config` against the real docker compose v2 (the oracle): every project in
//! tests/compose/oracle/<name>/ is rendered by both, with the same working directory and
//! environment, and the two outputs must be the same JSON value, up to the deliberate
//! differences in [`DIFFERENCES`] (documented in tests/compose/oracle/DIFFERENCES.md).
//!
//! Both formats are compared: rde's `--format json` with compose's `--format json`, and
//! rde's YAML with compose's YAML (both read with rde's YAML reader), values and key order;
//! where no deliberate difference applies, the YAML must be the same text.
//!
//! Per project, optional files:
//! - `env`: `KEY=VALUE` lines, the whole environment besides `PATH` (and `HOME=/home/oracle`);
//! - `args`: one global option per line placed before `config` (`--profile debug`, `-f x.yml`);
//! - `config-args`: one option per line placed after `config` (a service name);
//! - `variants`: more runs, one line of `config` options each (`--no-path-resolution`).
//!
//! The oracle is `$RDE_COMPOSE_ORACLE`, else /var/cache/rde-test-images/compose-v2/docker-compose
//! (scripts/compose-oracle installs it; scripts/ci-deps calls it). Without it the test fails,
//! unless RDE_TEST_NO_ORACLE=1.

#[path = "compose_common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;

/// A deliberate difference: a path pattern (`*` matches one segment, `**` any number) and why.
/// Values at matching paths are removed from both sides before comparing.
struct Difference {
    pattern: &'static str,
    only: Format,
    why: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Json,
    Yaml,
    Both,
}

const DIFFERENCES: &[Difference] = &[
    Difference {
        pattern: "*.**.x-*",
        only: Format::Json,
        why: "compose 2.26's JSON output drops x- extensions below the top level (its YAML keeps them); rde prints them in both",
    },
    Difference {
        pattern: "services.*.deploy.resources",
        only: Format::Json,
        why: "compose 2.26's JSON prints an empty `resources: {}` / `placement: {}` for any deploy; rde leaves empty sections out",
    },
    Difference { pattern: "services.*.deploy.placement", only: Format::Json, why: "as above" },
    Difference {
        pattern: "services.*.develop.watch.*.exec",
        only: Format::Json,
        why: "compose 2.26's JSON prints `exec: {command: null}` in every watch rule; its YAML and rde leave it out",
    },
    Difference {
        pattern: "networks.*.ipam.options",
        only: Format::Both,
        why: "compose 2.26 drops `ipam.options` (its IPAMConfig has no such field); the compose spec defines it and rde prints it",
    },
    Difference {
        pattern: "services.*.blkio_config",
        only: Format::Both,
        why: "compose 2.26 prints weight_device/device_* entries with Go field names (`Path`, `Rate`); rde keeps blkio_config as written",
    },
];

fn oracle() -> Option<PathBuf> {
    let path = std::env::var_os("RDE_COMPOSE_ORACLE").map(PathBuf::from).unwrap_or_else(|| "/var/cache/rde-test-images/compose-v2/docker-compose".into());
    path.is_file().then_some(path)
}

fn lines(dir: &Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect())
        .unwrap_or_default()
}

/// Runs `program [args] config [config-args] [--format json]` in `dir` with only the project's env.
fn run(program: &Path, dir: &Path, variant: &str, json: bool) -> Result<String, String> {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", "/home/oracle");
    for line in lines(dir, "env") {
        let (k, v) = line.split_once('=').unwrap_or((&line, ""));
        cmd.env(k, v);
    }
    for line in lines(dir, "args") {
        cmd.args(line.split_whitespace());
    }
    cmd.arg("config");
    for line in lines(dir, "config-args") {
        cmd.args(line.split_whitespace());
    }
    cmd.args(variant.split_whitespace());
    if json {
        cmd.args(["--format", "json"]);
    }
    let out = cmd.output().map_err(|e| format!("{}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!("{} exited with {}: {}", program.display(), out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8(out.stdout).expect("utf-8 output"))
}

fn parse(text: &str, json: bool, who: &str) -> Value {
    if json {
        return serde_json::from_str(text).unwrap_or_else(|e| panic!("{who}: not JSON: {e}\n{text}"));
    }
    let file: Arc<str> = Arc::from(who);
    let docs = rde::compose::yaml::parse(text, &file).unwrap_or_else(|e| panic!("{who}: not YAML: {e}\n{text}"));
    docs.first().map(rde::compose::fields::to_json).unwrap_or(Value::Null)
}

fn segment_matches(pattern: &str, segment: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => segment.starts_with(prefix),
        None => pattern == segment,
    }
}

/// Removes from `value` everything at a path matching `pattern` (segments joined by `.`).
fn remove(value: &mut Value, pattern: &[&str]) {
    let Some((first, rest)) = pattern.split_first() else { return };
    if *first == "**" {
        remove(value, rest);
        match value {
            Value::Object(map) => map.values_mut().for_each(|v| remove(v, pattern)),
            Value::Array(items) => items.iter_mut().for_each(|v| remove(v, pattern)),
            _ => {}
        }
        return;
    }
    match value {
        Value::Object(map) if rest.is_empty() => map.retain(|k, _| !segment_matches(first, k)),
        Value::Object(map) => map.iter_mut().filter(|(k, _)| segment_matches(first, k)).for_each(|(_, v)| remove(v, rest)),
        Value::Array(items) if *first == "*" => items.iter_mut().for_each(|v| remove(v, rest)),
        _ => {}
    }
}

fn normalise(mut value: Value, format: Format) -> Value {
    for d in DIFFERENCES.iter().filter(|d| d.only == Format::Both || d.only == format) {
        let segments: Vec<&str> = d.pattern.split('.').collect();
        remove(&mut value, &segments);
    }
    value
}

/// Every path where the two values differ, as `path: rde X, compose Y` lines.
fn diff(path: &str, rde: Option<&Value>, compose: Option<&Value>, out: &mut Vec<String>) {
    match (rde, compose) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            // The keys both print come in the same order (compose prints Go structs' fields in
            // declaration order, maps sorted).
            let ours: Vec<&String> = a.keys().filter(|k| b.contains_key(*k)).collect();
            let theirs: Vec<&String> = b.keys().filter(|k| a.contains_key(*k)).collect();
            if ours != theirs {
                out.push(format!("  {}: key order rde {ours:?}, compose {theirs:?}", if path.is_empty() { "(top)" } else { path }));
            }
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                diff(&p, a.get(k), b.get(k), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                diff(&format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => {
            let show = |v: Option<&Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "(absent)".into());
            out.push(format!("  {path}: rde {}, compose {}", show(a), show(b)));
        }
    }
}

#[test]
fn rde_config_matches_docker_compose_v2() {
    let Some(oracle) = oracle() else {
        if std::env::var("RDE_TEST_NO_ORACLE").as_deref() == Ok("1") {
            eprintln!("compose_oracle: no oracle; skipped (RDE_TEST_NO_ORACLE=1)");
            return;
        }
        panic!("the compose oracle is missing: run scripts/compose-oracle (or set RDE_COMPOSE_ORACLE, or RDE_TEST_NO_ORACLE=1 to skip)");
    };
    let rde = PathBuf::from(env!("CARGO_BIN_EXE_rde"));
    let root = common::fixture("oracle");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 8, "the oracle corpus should hold at least 8 projects");
    let mut report = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let variants: Vec<String> = std::iter::once(String::new()).chain(lines(dir, "variants")).collect();
        for (variant, (json, format)) in variants.iter().flat_map(|v| [(v, (true, Format::Json)), (v, (false, Format::Yaml))]) {
            let name = if variant.is_empty() { name.clone() } else { format!("{name} {variant}") };
            let outputs = (run(&rde, dir, variant, json), run(&oracle, dir, variant, json));
            let (ours, theirs) = match outputs {
                (Ok(a), Ok(b)) => (a, b),
                (a, b) => {
                    report.push(format!("{name} ({format:?}): rde {:?}\n  compose {:?}", a.err(), b.err()));
                    continue;
                }
            };
            let (our_text, their_text) = (ours, theirs);
            let (ours, theirs) = (parse(&our_text, json, "rde"), parse(&their_text, json, "compose"));
            let untouched = normalise(ours.clone(), format) == ours && normalise(theirs.clone(), format) == theirs;
            let (ours, theirs) = (normalise(ours, format), normalise(theirs, format));
            let mut lines = Vec::new();
            diff("", Some(&ours), Some(&theirs), &mut lines);
            // Where no deliberate difference applies, the YAML is the same text, line for line.
            if lines.is_empty() && !json && untouched && our_text.trim_end() != their_text.trim_end() {
                let (a, b): (Vec<&str>, Vec<&str>) = (our_text.lines().collect(), their_text.lines().collect());
                let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
                lines.push(format!("  text differs at line {}: rde {:?}, compose {:?}", at + 1, a.get(at), b.get(at)));
            }
            if !lines.is_empty() {
                report.push(format!("{name} ({format:?}):\n{}", lines.join("\n")));
            }
        }
    }
    // `config --variables`: the same variables, each with the same REQUIRED column. Compose
    // prints the rows in Go's map order, and for a variable used several times the default
    // and alternate values of whichever use its map walk met last: those are not compared.
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let rows = |text: Result<String, String>| {
            text.map(|t| {
                let mut rows: Vec<String> = t.lines().skip(1).map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ")).collect();
                rows.sort();
                rows
            })
        };
        let (ours, theirs) = (rows(run(&rde, dir, "--variables", false)), rows(run(&oracle, dir, "--variables", false)));
        if ours != theirs {
            report.push(format!("{name} (--variables):\n  rde {ours:?}\n  compose {theirs:?}"));
        }
    }
    // The name lists: the same names (compose's order depends on Go maps for some). Compose
    // orders --services by dependencies even with --no-consistency (and fails on a missing
    // one): not compared there.
    for dir in dirs.iter().filter(|d| !lines(d, "config-args").iter().any(|l| l.contains("--no-consistency"))) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for flag in ["--services", "--volumes", "--profiles", "--images"] {
            let names = |text: Result<String, String>| {
                text.map(|t| {
                    let mut names: Vec<String> = t.lines().map(String::from).collect();
                    names.sort();
                    names
                })
            };
            let (ours, theirs) = (names(run(&rde, dir, flag, false)), names(run(&oracle, dir, flag, false)));
            if ours != theirs {
                report.push(format!("{name} ({flag}):\n  rde {ours:?}\n  compose {theirs:?}"));
            }
        }
    }
    // `config --hash '*'`: `SERVICE HASH` lines for the same services (the digests differ:
    // each hashes its own serialisation).
    for dir in dirs.iter().filter(|d| !lines(d, "config-args").iter().any(|l| l.contains("--no-consistency"))) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let services = |text: Result<String, String>| {
            text.map(|t| {
                let mut names: Vec<String> = t
                    .lines()
                    .map(|l| match l.split_once(' ') {
                        Some((service, hash)) if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) => service.to_string(),
                        _ => format!("malformed line {l:?}"),
                    })
                    .collect();
                names.sort();
                names
            })
        };
        let (ours, theirs) = (services(run(&rde, dir, "--hash *", false)), services(run(&oracle, dir, "--hash *", false)));
        if ours != theirs {
            report.push(format!("{name} (--hash '*'):\n  rde {ours:?}\n  compose {theirs:?}"));
        }
    }
    let ignored: Vec<String> = DIFFERENCES.iter().map(|d| format!("  {} ({:?}): {}", d.pattern, d.only, d.why)).collect();
    assert!(
        report.is_empty(),
        "rde config differs from docker compose v2:\n{}\n(ignored, see tests/compose/oracle/DIFFERENCES.md:\n{})",
        report.join("\n"),
        ignored.join("\n")
    );
}

#[test]
fn every_difference_is_documented() {
    let doc = std::fs::read_to_string(common::fixture("oracle/DIFFERENCES.md")).unwrap();
    for d in DIFFERENCES {
        assert!(doc.contains(&format!("`{}`", d.pattern)), "{} ({}) is not in DIFFERENCES.md", d.pattern, d.why);
    }
}

#[test]
fn difference_patterns_remove_what_they_name() {
    let mut v = serde_json::json!({"x-top": 1, "services": {"a": {"x-n": 1, "deploy": {"resources": {}, "mode": "global"}, "image": "i"}}});
    remove(&mut v, &["*", "**", "x-*"]);
    remove(&mut v, &["services", "*", "deploy", "resources"]);
    assert_eq!(v, serde_json::json!({"x-top": 1, "services": {"a": {"deploy": {"mode": "global"}, "image": "i"}}}));
    let mut out = Vec::new();
    diff("", Some(&serde_json::json!({"a": [1, 2]})), Some(&serde_json::json!({"a": [1], "b": true})), &mut out);
    assert_eq!(out, vec!["  a[1]: rde 2, compose (absent)", "  b: rde (absent), compose true"]);
}
