//! The build context: a directory on the host, seen through `.dockerignore`.
//! COPY/ADD sources are found here (wildcards as Go's `filepath.Match` per
//! path element), resolved without ever leaving the context (a symlink inside
//! it resolves as if the context were `/`), and digested for the build cache
//! through a persistent stat cache, so a rebuild with nothing changed reads no
//! file: it only stats them.

use super::ignore::IgnoreRules;
use crate::image::digest::Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("build context {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("COPY source {pattern:?} is not in the build context {context}{}", excluded.as_ref().map(|e| format!(" (it is excluded by {e})")).unwrap_or_default())]
    NotFound { pattern: String, context: PathBuf, excluded: Option<String> },
    #[error("COPY source {0:?} points outside the build context; hint: sources are paths inside the context directory")]
    Outside(String),
    #[error(transparent)]
    Ignore(#[from] super::ignore::IgnoreError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ContextError + '_ {
    move |source| ContextError::Io { path: path.to_path_buf(), source }
}

/// The build context directory and its ignore rules.
pub struct Context {
    pub root: PathBuf,
    pub ignore: IgnoreRules,
    /// The ignore file that applied, for error messages.
    pub ignore_file: Option<PathBuf>,
}

impl Context {
    /// Open `root` with the ignore file that applies to `dockerfile` (see [`super::ignore::ignore_file_for`]).
    pub fn open(root: &Path, dockerfile: Option<&Path>) -> Result<Context, ContextError> {
        let root = root.canonicalize().map_err(io_err(root))?;
        let ignore_file = match dockerfile {
            Some(d) => super::ignore::ignore_file_for(&root, d),
            None => Some(root.join(".dockerignore")).filter(|p| p.is_file()),
        };
        let ignore = match &ignore_file {
            Some(file) => {
                let text = std::fs::read_to_string(file).map_err(io_err(file))?;
                IgnoreRules::parse(&text, &file.display().to_string())?
            }
            None => IgnoreRules::empty(),
        };
        Ok(Context { root, ignore, ignore_file })
    }

    /// Where `rel` (a path in the context) is on the host, every symlink on the
    /// way resolved inside the context; the last element is not followed.
    pub fn host_path(&self, rel: &str) -> Result<PathBuf, ContextError> {
        resolve_in_root(&self.root, rel, false).ok_or_else(|| ContextError::Outside(rel.to_string()))
    }

    /// The context paths a COPY source names: the path itself, or every match
    /// of its wildcards, leaving out what `.dockerignore` excludes. Errors when
    /// nothing is left, naming the rule that excluded the source if one did.
    pub fn resolve(&self, pattern: &str) -> Result<Vec<String>, ContextError> {
        let clean = clean_rel(pattern).ok_or_else(|| ContextError::Outside(pattern.to_string()))?;
        let not_found = |excluded: Option<String>| ContextError::NotFound { pattern: pattern.to_string(), context: self.root.clone(), excluded };
        if !has_wildcards(&clean) {
            if !clean.is_empty()
                && let Some(rule) = self.ignore.excluded_by(&clean)
            {
                return Err(not_found(Some(self.rule_name(rule))));
            }
            let host = self.host_path(&clean)?;
            return match std::fs::symlink_metadata(&host) {
                Ok(_) => Ok(vec![clean]),
                Err(_) => Err(not_found(None)),
            };
        }
        let mut found = vec![String::new()];
        for element in clean.split('/') {
            let mut next = Vec::new();
            for dir in &found {
                if !has_wildcards(element) {
                    let rel = join_rel(dir, element);
                    if self.host_path(&rel).is_ok_and(|p| std::fs::symlink_metadata(p).is_ok()) {
                        next.push(rel);
                    }
                    continue;
                }
                let Ok(host) = self.host_path(dir) else { continue };
                let Ok(entries) = std::fs::read_dir(&host) else { continue };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if glob_match(element, &name) {
                        next.push(join_rel(dir, &name));
                    }
                }
            }
            found = next;
        }
        found.retain(|rel| !self.ignore.is_excluded(rel));
        found.sort();
        if found.is_empty() {
            return Err(not_found(None));
        }
        Ok(found)
    }

    fn rule_name(&self, rule: &super::ignore::Pattern) -> String {
        let file = self.ignore_file.as_ref().and_then(|f| f.file_name()).map_or(".dockerignore".into(), |f| f.to_string_lossy().into_owned());
        format!("{file} line {}: {}", rule.line, rule.text)
    }

    /// Every entry under the context directory `rel` (itself first), in sorted
    /// order, with what `.dockerignore` excludes left out: (path in the context, metadata).
    pub fn walk(&self, rel: &str) -> Result<Vec<(String, std::fs::Metadata)>, ContextError> {
        let host = self.host_path(rel)?;
        let meta = std::fs::symlink_metadata(&host).map_err(io_err(&host))?;
        let mut out = vec![(rel.to_string(), meta)];
        if out[0].1.is_dir() {
            self.walk_dir(rel, &host, &mut out)?;
        }
        Ok(out)
    }

    fn walk_dir(&self, rel: &str, host: &Path, out: &mut Vec<(String, std::fs::Metadata)>) -> Result<(), ContextError> {
        let mut names: Vec<String> = std::fs::read_dir(host).map_err(io_err(host))?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for name in names {
            let child = join_rel(rel, &name);
            let path = host.join(&name);
            let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
            if self.ignore.is_excluded(&child) {
                if meta.is_dir() && !self.ignore.can_skip_dir(&child) {
                    // An exception may bring something below back.
                    let mut below = Vec::new();
                    self.walk_dir(&child, &path, &mut below)?;
                    if !below.is_empty() {
                        out.push((child, meta));
                        out.extend(below);
                    }
                }
                continue;
            }
            let is_dir = meta.is_dir();
            out.push((child.clone(), meta));
            if is_dir {
                self.walk_dir(&child, &path, out)?;
            }
        }
        Ok(())
    }

    /// `rel` with every symlink on the way (the last too) resolved inside the
    /// context: the directory COPY takes the contents of.
    pub fn real_dir(&self, rel: &str) -> String {
        match resolve_in_root(&self.root, rel, true) {
            Some(p) => p.strip_prefix(&self.root).map(|r| r.to_string_lossy().into_owned()).unwrap_or_else(|_| rel.to_string()),
            None => rel.to_string(),
        }
    }

    /// The cache digest of what COPY would take from `rel`: for each entry, its
    /// path below `rel`, type, permission bits and content (file bytes through
    /// the stat cache, link targets); not owners or times, which COPY does not keep.
    pub fn digest(&self, rel: &str, stat_cache: &mut StatCache) -> Result<Digest, ContextError> {
        let mut h = Sha256::new();
        let top = std::fs::symlink_metadata(self.host_path(rel)?).ok();
        // A symlink to a directory: COPY takes what it points to, so does the key.
        let walked = if top.is_some_and(|m| m.file_type().is_symlink()) && resolve_in_root(&self.root, rel, true).is_some_and(|p| p.is_dir()) {
            self.real_dir(rel)
        } else {
            rel.to_string()
        };
        h.update(format!("{rel}\0").as_bytes());
        for (path, meta) in self.walk(&walked)? {
            let below = path.strip_prefix(walked.as_str()).unwrap_or(&path);
            let host = self.root.join(&path);
            let ft = meta.file_type();
            let content = if ft.is_file() {
                stat_cache.file_digest(&host, &meta)?.hex().to_string()
            } else if ft.is_symlink() {
                std::fs::read_link(&host).map_err(io_err(&host))?.display().to_string()
            } else {
                String::new()
            };
            let kind = if ft.is_dir() {
                'd'
            } else if ft.is_file() {
                'f'
            } else if ft.is_symlink() {
                'l'
            } else {
                'o'
            };
            h.update(format!("{below}\0{kind}\0{:o}\0{content}\n", meta.permissions().mode() & 0o7777).as_bytes());
        }
        Ok(Digest::from_hex(&hex::encode(h.finalize())).expect("sha256 hex"))
    }
}

/// File digests by (path, size, mtime, ctime, inode), kept between builds in
/// the store (`build-cache-v1/stat-cache.json`): a file whose stat is unchanged
/// is not read again.
#[derive(Default, Serialize, Deserialize)]
pub struct StatCache {
    entries: BTreeMap<PathBuf, StatEntry>,
    #[serde(skip)]
    dirty: bool,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct StatEntry {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    digest: Digest,
}

impl StatCache {
    pub fn load(path: &Path) -> StatCache {
        crate::fsutil::read_json(path).ok().flatten().unwrap_or_default()
    }

    /// Write it back if anything changed (a failure only costs the next build a re-read).
    pub fn save(&self, path: &Path) {
        if self.dirty {
            let _ = crate::fsutil::write_json(path, self);
        }
    }

    pub fn file_digest(&mut self, path: &Path, meta: &std::fs::Metadata) -> Result<Digest, ContextError> {
        let ns = |s: i64, n: i64| s as i128 * 1_000_000_000 + n as i128;
        let stat = StatEntry {
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            digest: Digest::of(b""),
        };
        if let Some(e) = self.entries.get(path)
            && e.size == stat.size
            && e.mtime_ns == stat.mtime_ns
            && e.ctime_ns == stat.ctime_ns
            && e.ino == stat.ino
        {
            return Ok(e.digest.clone());
        }
        let mut file = std::fs::File::open(path).map_err(io_err(path))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(io_err(path))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let digest = Digest::from_hex(&hex::encode(h.finalize())).expect("sha256 hex");
        self.entries.insert(path.to_path_buf(), StatEntry { digest: digest.clone(), ..stat });
        self.dirty = true;
        Ok(digest)
    }
}

/// `path` relative to a root: `./a//b/../c` -> `a/c`, a leading `/` dropped;
/// `None` if `..` climbs above the root.
pub fn clean_rel(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn join_rel(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
}

pub fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Resolve `rel` under `root` as if `root` were `/`: absolute symlink targets
/// restart at `root`, `..` stops at it. With `follow_last`, a symlink in the
/// last element is followed too. `None` after 40 links (a loop).
pub fn resolve_in_root(root: &Path, rel: &str, follow_last: bool) -> Option<PathBuf> {
    let mut todo: Vec<String> = rel.split('/').filter(|p| !p.is_empty() && *p != ".").map(str::to_string).rev().collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            done.pop();
            continue;
        }
        let candidate = root.join(done.iter().map(String::as_str).chain([part.as_str()]).collect::<Vec<_>>().join("/"));
        let is_last = todo.is_empty();
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() && (!is_last || follow_last) => {
                links += 1;
                if links > 40 {
                    return None;
                }
                let target = std::fs::read_link(&candidate).ok()?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(target.split('/').filter(|p| !p.is_empty() && *p != ".").map(str::to_string).rev());
            }
            _ => done.push(part),
        }
    }
    Some(root.join(done.join("/")))
}

/// Go's `filepath.Match` for one path element: `*`, `?`, `[a-z]`, `[^x]`, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, len)) = class_match(&p[pi..], n[ni])
                        && matched
                    {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `[...]` at the start of `p` against `c`: (matched, length of the class).
fn class_match(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    // Go negates a class with `^` only (`[!a]` matches `!` or `a`).
    let negate = p.get(i) == Some(&'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        let mut lo = p[i];
        if lo == '\\' {
            i += 1;
            lo = *p.get(i)?;
        }
        let mut hi = lo;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            hi = p[i + 2];
            i += 2;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
        i += 1;
    }
    (i < p.len()).then_some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_go_filepath_match() {
        for (p, n, want) in [
            ("*.txt", "a.txt", true),
            ("*.txt", "a.md", false),
            ("a?c", "abc", true),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("[!a-c]x", "!x", true),
            ("[!a-c]x", "dx", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("\\*", "*", true),
            ("requirements*.txt", "requirements-dev.txt", true),
        ] {
            assert_eq!(glob_match(p, n), want, "{p} vs {n}");
        }
    }

    #[test]
    fn clean_rel_stays_below_the_root() {
        assert_eq!(clean_rel("./a//b/../c").as_deref(), Some("a/c"));
        assert_eq!(clean_rel("/app/x").as_deref(), Some("app/x"));
        assert_eq!(clean_rel(".").as_deref(), Some(""));
        assert_eq!(clean_rel("../x"), None);
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../real", root.join("rel")).unwrap();
        assert_eq!(resolve_in_root(root, "abs/passwd", false).unwrap(), root.join("etc/passwd"));
        assert_eq!(resolve_in_root(root, "rel/x", false).unwrap(), root.join("real/x"));
        assert_eq!(resolve_in_root(root, "rel", false).unwrap(), root.join("rel"));
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve_in_root(root, "loop/x", false), None);
    }

    #[test]
    fn sources_resolve_with_wildcards_and_ignore_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/sub")).unwrap();
        for f in ["a.txt", "b.txt", "c.md", "src/sub/x.py", "secret.txt"] {
            std::fs::write(root.join(f), f).unwrap();
        }
        std::fs::write(root.join(".dockerignore"), "secret.txt\n*.md\n").unwrap();
        let ctx = Context::open(root, None).unwrap();
        assert_eq!(ctx.resolve("*.txt").unwrap(), vec!["a.txt", "b.txt"]);
        assert_eq!(ctx.resolve("src/*/x.py").unwrap(), vec!["src/sub/x.py"]);
        let e = ctx.resolve("secret.txt").unwrap_err().to_string();
        assert!(e.contains("excluded by .dockerignore line 1: secret.txt"), "{e}");
        assert!(ctx.resolve("nope").unwrap_err().to_string().contains("not in the build context"));
        assert!(matches!(ctx.resolve("../x"), Err(ContextError::Outside(_))));
        let all: Vec<String> = ctx.walk("").unwrap().into_iter().map(|(p, _)| p).collect();
        assert_eq!(all, vec!["", ".dockerignore", "a.txt", "b.txt", "src", "src/sub", "src/sub/x.py"]);
    }

    #[test]
    fn digests_change_with_content_and_mode_not_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/f"), b"one").unwrap();
        let ctx = Context::open(root, None).unwrap();
        let mut cache = StatCache::default();
        let first = ctx.digest("d", &mut cache).unwrap();
        let f = std::fs::File::options().write(true).open(root.join("d/f")).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(ctx.digest("d", &mut cache).unwrap(), first);
        std::fs::write(root.join("d/f"), b"two").unwrap();
        let second = ctx.digest("d", &mut cache).unwrap();
        assert_ne!(second, first);
        std::fs::set_permissions(root.join("d/f"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(ctx.digest("d", &mut cache).unwrap(), second);
    }
}
