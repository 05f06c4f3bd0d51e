//! The "nevers" of docs/ARCHITECTURE.md, checked on the sources: which module
//! may not name which (`crate::<module>` anywhere in its files, `use` or path).
//! The data path runs compose -> project -> runtime/net/image, the CLI on top.

use std::path::{Path, PathBuf};

/// (module: a directory or file under src/, modules it must not name).
const NEVERS: &[(&str, &[&str])] = &[
    ("compose", &["cli", "project", "runtime", "net", "image", "build"]),
    ("image", &["cli", "project", "runtime", "net", "compose", "build"]),
    ("net", &["cli", "project", "runtime", "build"]),
    ("runtime", &["cli", "project", "build"]),
    ("build", &["cli", "project", "compose"]),
    ("project", &["cli"]),
    ("cp.rs", &["cli", "project", "compose"]),
    ("rootless.rs", &["cli", "output", "project", "runtime", "net"]),
    ("time.rs", &["cli", "output", "project", "runtime", "net", "image", "compose"]),
    ("process.rs", &["cli", "output", "project", "runtime", "net", "image", "compose"]),
    ("signals.rs", &["cli", "output", "project", "runtime", "net", "image", "compose"]),
    ("names.rs", &["cli", "output", "project", "runtime", "net", "image", "compose"]),
    ("output.rs", &["cli", "project", "runtime", "net", "image", "compose"]),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read src dir") {
            rust_files(&entry.expect("dir entry").path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// Whether `text` names `crate::<module>` (not `crate::<module>_more`).
fn names_module(text: &str, module: &str) -> bool {
    let needle = format!("crate::{module}");
    text.match_indices(&needle).any(|(i, _)| !text[i + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

#[test]
fn the_nevers_hold() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (module, forbidden) in NEVERS {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        assert!(!files.is_empty(), "src/{module} is gone: update NEVERS");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for f in forbidden.iter().filter(|f| names_module(&text, f)) {
                broken.push(format!("{} names crate::{f}", file.strip_prefix(&src).unwrap_or(&file).display()));
            }
        }
    }
    // Nothing below the CLI reaches up into it (main.rs, cli/ itself and this file aside).
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files.iter().filter(|f| !f.starts_with(src.join("cli")) && !f.ends_with("main.rs") && !f.ends_with("layering.rs")) {
        if names_module(&std::fs::read_to_string(file).expect("read source"), "cli") {
            broken.push(format!("{} names crate::cli", file.strip_prefix(&src).unwrap_or(file).display()));
        }
    }
    assert!(broken.is_empty(), "layering broken (see docs/ARCHITECTURE.md):\n{}", broken.join("\n"));
}

#[test]
fn module_names_are_matched_whole() {
    assert!(names_module("use crate::net::connect;", "net"));
    assert!(!names_module("use crate::names::validate;", "net"));
    assert!(!names_module("use crate::network;", "net"));
}
