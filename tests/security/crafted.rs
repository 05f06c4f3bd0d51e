//! Crafted images: the busybox test image with one more layer written entry by
//! entry with python's tarfile (so the layer can hold what no honest build
//! makes: absolute symlinks into the host, device nodes, set-id binaries),
//! pushed to the shared test registry with skopeo.

use super::common::*;
use std::process::Command;

/// Python that runs with `t` (an open `tarfile.TarFile`) and these helpers:
/// `file(path, data, mode=0o644, uid=0, gid=0)`, `dir(path, mode=0o755)`,
/// `link(path, target)` (symlink), `device(path, 'c'|'b', major, minor)`, `fifo(path)`.
const PRELUDE: &str = r#"
import io, sys, tarfile, json, gzip, os
def _add(info, data=None):
    info.mtime = 1700000000
    t.addfile(info, io.BytesIO(data) if data is not None else None)
def file(path, data, mode=0o644, uid=0, gid=0):
    data = data.encode() if isinstance(data, str) else data
    i = tarfile.TarInfo(path); i.size = len(data); i.mode = mode; i.uid = uid; i.gid = gid
    _add(i, data)
def dir(path, mode=0o755):
    i = tarfile.TarInfo(path); i.type = tarfile.DIRTYPE; i.mode = mode
    _add(i)
def link(path, target):
    i = tarfile.TarInfo(path); i.type = tarfile.SYMTYPE; i.linkname = target
    _add(i)
def device(path, kind, major, minor):
    i = tarfile.TarInfo(path); i.type = tarfile.CHRTYPE if kind == 'c' else tarfile.BLKTYPE
    i.devmajor = major; i.devminor = minor; i.mode = 0o666
    _add(i)
def fifo(path):
    i = tarfile.TarInfo(path); i.type = tarfile.FIFOTYPE; i.mode = 0o644
    _add(i)
"#;

/// The busybox layout's (only) layer, uncompressed, written to `out`.
const BASE_LAYER: &str = r#"
import json, gzip, os, sys
layout, out = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(layout, 'blobs', *d.split(':'))
index = json.load(open(os.path.join(layout, 'index.json')))
m = next(m for m in index['manifests'] if m.get('annotations', {}).get('org.opencontainers.image.ref.name') == 'latest')
manifest = json.load(open(blob(m['digest'])))
open(out, 'wb').write(gzip.open(blob(manifest['layers'][0]['digest'])).read())
"#;

/// Push `test/<name>:latest` to the shared registry: busybox plus a layer made
/// by `layer` (python, see [`PRELUDE`]), with `config` options of
/// images/oci-layout.py (`--workdir`, `--volume`, `--user`, `--cmd` ...).
/// Returns the reference to pull.
pub fn crafted_image(name: &str, layer: &str, config: &[&str]) -> String {
    let dir = tempfile::Builder::new().prefix("rde-crafted-").tempdir().unwrap();
    let run = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(out.status.success(), "{c:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let busybox = run(Command::new(repo_root().join("scripts/test-images")).args(["path", "busybox"]));
    let base = dir.path().join("base.tar");
    run(Command::new("python3").args(["-c", BASE_LAYER, &busybox]).arg(&base));
    let crafted = dir.path().join("crafted.tar");
    let script = format!("{PRELUDE}\nt = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)\n{layer}\nt.close()\n");
    run(Command::new("python3").args(["-c", &script]).arg(&crafted));
    let layout = dir.path().join("layout");
    let mut c = Command::new("python3");
    c.arg(repo_root().join("images/oci-layout.py")).arg("image").arg(&layout).arg("--layer").arg(&base).arg("--layer").arg(&crafted);
    c.args(config).args(["--ref", "latest"]);
    run(&mut c);
    let reference = format!("{}/test/{name}:latest", shared_registry());
    run(Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:latest", layout.display()))
        .arg(format!("docker://{reference}")));
    reference
}

/// Root is needed for containers, and the suite must not skip.
#[allow(dead_code)]
pub fn require_root() {
    assert!(is_root(), "the security suite needs root; run it through scripts/test");
}
