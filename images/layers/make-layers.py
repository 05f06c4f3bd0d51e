#!/usr/bin/env python3
"""Writes the three layer tars of test/layers (see images/README.md for the
expected merged tree).  Usage: make-layers.py OUT_DIR"""

import os
import sys

sys.path.insert(0, os.environ["IMAGES_LIB"])
import rootfs  # noqa: E402

out = sys.argv[1]
LONG_PATH = "long/" + "a" * 60 + "/" + "b" * 60 + ".txt"  # 130 chars
UNICODE_NAME = "unicode/grüße-日本.txt"

# ---- layer 1: one of every entry type -------------------------------------
w = rootfs.LayerWriter(os.path.join(out, "layer1.tar"))
w.dir("dir1")
w.file("dir1/hello.txt", "hello\n")
w.dir("dir1/sub")
w.file("dir1/sub/nested.txt", "nested\n")
w.dir("bin")
w.file("bin/suid", "#!/bin/sh\necho suid\n", mode=0o4755)
w.dir("tmp", mode=0o1777)
w.dir("home")
w.dir("home/app", uid=1000, gid=1000)
w.file("home/app/owned.txt", "app\n", mode=0o600, uid=1000, gid=1000)
w.file("group42.txt", "group 42\n", mode=0o640, uid=0, gid=42)
w.dir("links")
w.symlink("links/rel", "../dir1/hello.txt")
w.symlink("links/abs", "/dir1/hello.txt")
w.dir("hard")
w.file("hard/a", "hardlinked\n")
w.hardlink("hard/b", "hard/a")
w.dir("special")
w.fifo("special/fifo", mode=0o644)
w.chardev("special/null", 1, 3, mode=0o666)
w.file("empty", b"")
w.file("xattr.txt", "has xattr\n", pax={"SCHILY.xattr.user.test": "hello"})
w.dir("long")
w.dir("long/" + "a" * 60)
w.file(LONG_PATH, "long\n")
w.dir("unicode")
w.file(UNICODE_NAME, "unicode\n")
w.file("deleteme.txt", "to be deleted\n")
w.dir("olddir")
w.file("olddir/a.txt", "a\n")
w.dir("olddir/sub")
w.file("olddir/sub/b.txt", "b\n")
w.dir("opaque")
w.file("opaque/old1.txt", "old1\n")
w.dir("opaque/oldsub")
w.file("opaque/oldsub/old2.txt", "old2\n")
w.file("file2dir", "i am a file\n")
w.dir("dir2file")
w.file("dir2file/child.txt", "child\n")
w.file("chmod.txt", "mode change\n", mode=0o644)
w.close()

# ---- layer 2: whiteouts, opaque dir, type changes, metadata change ----------
w = rootfs.LayerWriter(os.path.join(out, "layer2.tar"))
w.file(".wh.deleteme.txt")
w.file(".wh.olddir")
w.dir("opaque", mode=0o755)
w.file("opaque/.wh..wh..opq")
w.file("opaque/new.txt", "new\n")
w.dir("file2dir")
w.file("file2dir/inside.txt", "inside\n")
w.file("dir2file", "now a file\n")
w.file("chmod.txt", "mode change\n", mode=0o600, uid=1000, gid=1000)
w.close()

# ---- layer 3: recreate a deleted file, hardlink to a layer-1 file ---------
w = rootfs.LayerWriter(os.path.join(out, "layer3.tar"))
w.file("deleteme.txt", "recreated\n")
w.dir("dir1")
w.file("dir1/hello.txt", "hello\n")
w.hardlink("dir1/hello-link", "dir1/hello.txt")
w.close()
