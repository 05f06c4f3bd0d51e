#!/usr/bin/env python3
"""Write OCI image layouts from layer tar files (stdlib only, plus the zstd CLI
for zstd layers).

Subcommands:

  image LAYOUT --layer TAR [--layer TAR ...] [config options] [--ref NAME]
        [--descriptor-out FILE]
      Adds an image manifest (config + layers) to the layout at LAYOUT,
      creating the layout if needed.  With --ref the manifest is recorded in
      LAYOUT/index.json under that org.opencontainers.image.ref.name
      (replacing an older entry of the same name).  --descriptor-out writes the
      manifest descriptor (with platform) as JSON, for `index`.

  index LAYOUT --manifest DESCRIPTOR.json [...] --ref NAME
      Writes an OCI image index whose entries are the given manifest
      descriptors and records it in LAYOUT/index.json under NAME.

Layer tars are read uncompressed.  --normalize rewrites them (PAX format,
names without a leading "./", the root entry dropped, contents of dev/,
proc/ and sys/ dropped, paths given with --drop removed, directories given
with --mkdir added, mtimes clamped to SOURCE_DATE_EPOCH); without it the tar bytes are used exactly as given.
Compression: --compression gzip (default, deterministic: no name, mtime 0),
zstd or none.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
CHUNK = 1 << 20


def source_date_epoch():
    value = os.environ.get("SOURCE_DATE_EPOCH")
    return int(value) if value else None


def rfc3339(epoch):
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Layout:
    def __init__(self, path):
        self.path = path
        self.blobs = os.path.join(path, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        marker = os.path.join(path, "oci-layout")
        if not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write('{"imageLayoutVersion":"1.0.0"}')
        self.index_path = os.path.join(path, "index.json")
        if os.path.exists(self.index_path):
            with open(self.index_path) as f:
                self.index = json.load(f)
        else:
            self.index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": []}

    def put_bytes(self, data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        target = os.path.join(self.blobs, digest)
        if not os.path.exists(target):
            tmp = target + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

    def put_file(self, path, media_type):
        """Moves PATH into the blob store."""
        h = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                h.update(chunk)
                size += len(chunk)
        digest = h.hexdigest()
        target = os.path.join(self.blobs, digest)
        if os.path.exists(target):
            os.unlink(path)
        else:
            shutil.move(path, target)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": size}

    def tag(self, descriptor, ref):
        entry = dict(descriptor)
        annotations = dict(entry.get("annotations") or {})
        annotations["org.opencontainers.image.ref.name"] = ref
        entry["annotations"] = annotations
        self.index["manifests"] = [
            m
            for m in self.index["manifests"]
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") != ref
        ]
        self.index["manifests"].append(entry)
        self.index["manifests"].sort(
            key=lambda m: m["annotations"]["org.opencontainers.image.ref.name"]
        )
        tmp = self.index_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.index, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.index_path)


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def normalize_tar(src, dst, drop, clamp, mkdirs=()):
    """Rewrite the tar SRC into DST (see module doc).  MKDIRS holds
    "PATH:MODE:UID:GID" directories appended at the end (for paths such as
    run/* that mmdebstrap leaves empty)."""
    drop = [d.strip("/") for d in drop]
    skip_contents = ("dev/", "proc/", "sys/")
    with tarfile.open(src, "r:", format=tarfile.PAX_FORMAT) as tin, tarfile.open(
        dst, "w:", format=tarfile.PAX_FORMAT, encoding="utf-8"
    ) as tout:
        for member in tin:
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            name = name.lstrip("/").rstrip("/")
            if name in ("", "."):
                continue
            if any(name.startswith(p) for p in skip_contents):
                continue
            if any(name == d or name.startswith(d + "/") for d in drop):
                continue
            member.name = name
            if member.islnk():
                link = member.linkname
                while link.startswith("./"):
                    link = link[2:]
                member.linkname = link.lstrip("/")
            if clamp is not None and member.mtime > clamp:
                member.mtime = clamp
            # Keep xattrs and other PAX records, but drop stale path/linkpath
            # records that would override the rewritten names.
            member.pax_headers = {
                k: v
                for k, v in member.pax_headers.items()
                if k not in ("path", "linkpath", "mtime", "atime", "ctime")
            }
            if member.isreg():
                tout.addfile(member, tin.extractfile(member))
            else:
                tout.addfile(member)
        for spec in mkdirs:
            path, mode, uid, gid = spec.rsplit(":", 3)
            info = tarfile.TarInfo(path.strip("/"))
            info.type = tarfile.DIRTYPE
            info.mode = int(mode, 8)
            info.uid, info.gid = int(uid), int(gid)
            info.mtime = clamp or 0
            tout.addfile(info)


def compress(src, dst, method):
    if method == "none":
        shutil.copyfile(src, dst)
    elif method == "gzip":
        with open(src, "rb") as fin, open(dst, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
                shutil.copyfileobj(fin, gz, CHUNK)
    elif method == "zstd":
        subprocess.run(
            ["zstd", "-q", "-f", "-3", "--no-progress", "-o", dst, src], check=True
        )
    else:
        raise SystemExit("unknown compression " + method)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def parse_kv(items, what):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit("%s must be KEY=VALUE: %r" % (what, item))
        k, v = item.split("=", 1)
        out[k] = v
    return out


def cmd_image(args):
    layout = Layout(args.layout)
    clamp = source_date_epoch()
    layers = []
    diff_ids = []
    history = []
    with tempfile.TemporaryDirectory(dir=args.layout, prefix=".work-") as work:
        for i, src in enumerate(args.layer):
            tar_path = src
            if args.normalize:
                tar_path = os.path.join(work, "layer%d.tar" % i)
                normalize_tar(src, tar_path, args.drop or [], clamp, args.mkdir or [])
            diff_ids.append(sha256_file(tar_path))
            blob = os.path.join(work, "layer%d.blob" % i)
            compress(tar_path, blob, args.compression)
            layers.append(layout.put_file(blob, MT_LAYER[args.compression]))
            created_by = (args.history[i] if args.history and i < len(args.history)
                          else "rde test image layer %d" % (i + 1))
            history.append({"created": rfc3339(clamp or 0), "created_by": created_by})

    config = {}
    if args.user is not None:
        config["User"] = args.user
    if args.env:
        config["Env"] = list(args.env)
    if args.entrypoint is not None:
        config["Entrypoint"] = json.loads(args.entrypoint)
    if args.cmd is not None:
        config["Cmd"] = json.loads(args.cmd)
    if args.workdir is not None:
        config["WorkingDir"] = args.workdir
    if args.expose:
        config["ExposedPorts"] = {p: {} for p in args.expose}
    if args.volume:
        config["Volumes"] = {v: {} for v in args.volume}
    if args.stop_signal:
        config["StopSignal"] = args.stop_signal
    labels = parse_kv(args.label, "--label")
    if labels:
        config["Labels"] = labels

    image_config = {
        "created": rfc3339(clamp or 0),
        "architecture": args.arch,
        "os": args.os,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if args.variant:
        image_config["variant"] = args.variant
    config_desc = layout.put_bytes(canonical_json(image_config), MT_CONFIG)

    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": config_desc,
        "layers": layers,
    }
    annotations = parse_kv(args.annotation, "--annotation")
    if annotations:
        manifest["annotations"] = annotations
    desc = layout.put_bytes(canonical_json(manifest), MT_MANIFEST)
    platform = {"architecture": args.arch, "os": args.os}
    if args.variant:
        platform["variant"] = args.variant
    if args.ref:
        layout.tag(desc, args.ref)
    if args.descriptor_out:
        with open(args.descriptor_out, "w") as f:
            json.dump(dict(desc, platform=platform), f, sort_keys=True)
    print(desc["digest"])


def cmd_index(args):
    layout = Layout(args.layout)
    manifests = []
    for path in args.manifest:
        with open(path) as f:
            manifests.append(json.load(f))
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}
    desc = layout.put_bytes(canonical_json(index), MT_INDEX)
    layout.tag(desc, args.ref)
    print(desc["digest"])


def main():
    p = argparse.ArgumentParser(description="Write OCI image layouts.")
    sub = p.add_subparsers(dest="command", required=True)

    pi = sub.add_parser("image", help="add an image manifest to a layout")
    pi.add_argument("layout")
    pi.add_argument("--layer", action="append", required=True, help="uncompressed layer tar")
    pi.add_argument("--history", action="append", help="created_by text per layer")
    pi.add_argument("--normalize", action="store_true")
    pi.add_argument("--drop", action="append", help="path to remove when normalizing")
    pi.add_argument("--mkdir", action="append",
                    help="PATH:OCTAL_MODE:UID:GID directory to add when normalizing")
    pi.add_argument("--compression", choices=sorted(MT_LAYER), default="gzip")
    pi.add_argument("--arch", default="amd64")
    pi.add_argument("--os", default="linux")
    pi.add_argument("--variant")
    pi.add_argument("--env", action="append")
    pi.add_argument("--entrypoint", help="JSON array")
    pi.add_argument("--cmd", help="JSON array")
    pi.add_argument("--workdir")
    pi.add_argument("--user")
    pi.add_argument("--expose", action="append", help="e.g. 5432/tcp")
    pi.add_argument("--volume", action="append")
    pi.add_argument("--stop-signal")
    pi.add_argument("--label", action="append")
    pi.add_argument("--annotation", action="append")
    pi.add_argument("--ref")
    pi.add_argument("--descriptor-out")
    pi.set_defaults(func=cmd_image)

    px = sub.add_parser("index", help="add an image index to a layout")
    px.add_argument("layout")
    px.add_argument("--manifest", action="append", required=True)
    px.add_argument("--ref", required=True)
    px.set_defaults(func=cmd_index)

    args = p.parse_args()
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
