#!/usr/bin/env python3
"""Helpers for building layer tars entry by entry with tarfile."""

import io
import os
import tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "1700000000"))

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\napp:x:1000:\nnobody:x:65534:\n"


class LayerWriter:
    """Writes a PAX tar with explicit control over every entry."""

    def __init__(self, path):
        self.tar = tarfile.open(path, "w", format=tarfile.PAX_FORMAT, encoding="utf-8")

    def _info(self, name, kind, mode, uid, gid, mtime):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.uname = ti.gname = ""
        ti.mtime = EPOCH if mtime is None else mtime
        return ti

    def dir(self, name, mode=0o755, uid=0, gid=0, mtime=None):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode, uid, gid, mtime))

    def file(self, name, data=b"", mode=0o644, uid=0, gid=0, mtime=None, pax=None):
        if isinstance(data, str):
            data = data.encode()
        ti = self._info(name, tarfile.REGTYPE, mode, uid, gid, mtime)
        ti.size = len(data)
        if pax:
            ti.pax_headers = dict(pax)
        self.tar.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target, uid=0, gid=0, mtime=None):
        ti = self._info(name, tarfile.SYMTYPE, 0o777, uid, gid, mtime)
        ti.linkname = target
        self.tar.addfile(ti)

    def hardlink(self, name, target, mode=0o644, uid=0, gid=0, mtime=None):
        ti = self._info(name, tarfile.LNKTYPE, mode, uid, gid, mtime)
        ti.linkname = target
        self.tar.addfile(ti)

    def fifo(self, name, mode=0o644, uid=0, gid=0, mtime=None):
        self.tar.addfile(self._info(name, tarfile.FIFOTYPE, mode, uid, gid, mtime))

    def chardev(self, name, major, minor, mode=0o666, uid=0, gid=0, mtime=None):
        ti = self._info(name, tarfile.CHRTYPE, mode, uid, gid, mtime)
        ti.devmajor, ti.devminor = major, minor
        self.tar.addfile(ti)

    def close(self):
        self.tar.close()


def busybox_tree(w, busybox_bytes, applets, with_users=True):
    """Adds a minimal busybox root filesystem to the LayerWriter W."""
    for d in ("bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "usr",
              "usr/bin", "usr/sbin", "var", "var/spool", "var/www"):
        w.dir(d, mode=0o700 if d == "root" else 0o755)
    w.dir("tmp", mode=0o1777)
    w.dir("var/tmp", mode=0o1777)
    if with_users:
        w.dir("home/app", mode=0o755, uid=1000, gid=1000)
        w.file("etc/passwd", PASSWD)
        w.file("etc/group", GROUP)
        w.file("etc/shadow", "root:*:19000:0:99999:7:::\napp:!:19000::::::\nnobody:*:19000:0:99999:7:::\n", mode=0o640)
    w.file("bin/busybox", busybox_bytes, mode=0o755)
    seen = set()
    for applet in sorted(applets):
        applet = applet.strip().lstrip("/")
        # linuxrc is an init-related applet that would land in / itself.
        if not applet or applet in ("bin/busybox", "linuxrc") or applet in seen:
            continue
        seen.add(applet)
        w.symlink(applet, "/bin/busybox")
