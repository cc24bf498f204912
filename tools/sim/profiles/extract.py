"""Extract a firmware profile (tools/sim/profiles/<version>.json) from the real sources.

Run by hand, never at test time:
    python -m tools.sim.profiles.extract v4.7.0 [--openmv GITDIR] [--micropython GITDIR]
        [--upstream GITDIR] [--mplib GITDIR] [--out DIR]

It reads the OpenMV firmware at the tag and OpenMV's MicroPython fork at the commit the tag
pins (lib/micropython gitlink), runs a small C preprocessor over them with the OPENMV_RT1060
board configuration, and records what the compiler would see: module tables, class tables,
keyword arguments, constants, and the behaviour facts listed in /work/notes/profile_schema.md.
When the pinned fork commit is not in the mirror, the nearest available source is used and the
profile says so ("micropython_source").
"""
import argparse
import ast
import json
import os
import re
import subprocess
import sys

from tools.sim.profiles.cpp import Preprocessor, Unknown, braced, split_top, tokens

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULTS = {
    "openmv": "/work/.mirror/openmv+openmv/repo",
    "micropython": "/work/.mirror/openmv+micropython/repo",
    "upstream": "/work/.mirror/micropython+micropython/repo",
    "mplib": "/work/.mirror/micropython+micropython-lib/repo",
    "cyw43": "/work/.mirror/georgerobotics+cyw43-driver/repo",
}
BOARD = "OPENMV_RT1060"
# The MicroPython modules the app imports (present or null in the profile).
MP_MODULES = ["os", "vfs", "select", "socket", "struct", "hashlib", "binascii", "errno", "json",
              "gc", "micropython", "sys", "io", "mimxrt", "deflate", "time", "machine", "network"]
# Classes whose methods and constructor keywords are recorded in full.
CLASSES = {"image": ["Image"], "csi": ["CSI"], "machine": ["RTC", "WDT", "Pin", "SDCard", "LED"],
           "network": ["WLAN"]}
# Image methods whose keyword tables the app or emulator depends on.
IMAGE_METHODS = ["to_jpeg", "compress", "draw_string", "draw_rectangle", "save", "bytearray",
                 "size", "width", "height", "copy", "format"]


def git(gitdir, *args):
    return subprocess.run(["git", "-C", gitdir] + list(args), capture_output=True,
                          check=False).stdout.decode("utf-8", "replace")


class Tree:
    """One commit of one repository, seen through `prefix/` (only paths under `only` if given)."""

    def __init__(self, gitdir, rev, label, root="", only=None, mount=""):
        self.gitdir, self.rev, self.label, self.root, self.only = gitdir, rev, label, root, only
        self.mount = mount  # seen under this folder (a submodule kept in its own repository)
        names = git(gitdir, "ls-tree", "-r", "--name-only", rev).split("\n")
        self.files = set()
        for n in names:
            if n.startswith(root) and n:
                rel = n[len(root):]
                if only is None or any(rel.startswith(o) for o in only):
                    self.files.add(mount + rel)
        self._cache = {}

    def show(self, rel):
        if rel not in self.files:
            return None
        if rel not in self._cache:
            self._cache[rel] = git(self.gitdir, "show", "%s:%s%s" % (self.rev, self.root, rel[len(self.mount):]))
        return self._cache[rel]

    def cite(self, rel):
        return "%s%s @%s" % (self.root if self.label.startswith("openmv") else "", rel,
                             self.label.split(" ", 1)[1])


class Layers:
    """Several trees stacked: the first that has a path wins."""

    def __init__(self, trees):
        self.trees = trees
        self.files = set().union(*(t.files for t in trees))

    def tree_of(self, rel):
        for t in self.trees:
            if rel in t.files:
                return t
        return None

    def show(self, rel):
        t = self.tree_of(rel)
        return t.show(rel) if t else None

    def cite(self, rel):
        t = self.tree_of(rel)
        return t.cite(rel) if t else rel


# ---------------------------------------------------------------- sources of one firmware tag
class Firmware:
    def __init__(self, tag, paths):
        self.tag = tag
        self.paths = paths
        omv = paths["openmv"]
        files = git(omv, "ls-tree", "-r", "--name-only", tag).split("\n")
        self.omv_root = "src/omv/" if any(f.startswith("src/omv/") for f in files) else ""
        mp_link = [ln for ln in git(omv, "ls-tree", "-r", tag).split("\n")
                   if ln.split("\t")[-1] in ("lib/micropython", "src/micropython", "src/lib/micropython")]
        self.mp_commit = mp_link[0].split()[2]
        self.omv = Tree(omv, tag, "openmv @" + tag, self.omv_root)
        self.scripts = Tree(omv, tag, "openmv @" + tag, "scripts/libraries/")
        self.mp, self.mp_source = self._micropython()
        self._submodule("lib/cyw43-driver", paths.get("cyw43"))
        self.version = tuple(int(x) for x in tag.lstrip("v").split("."))

    def _micropython(self):
        fork, up = self.paths["micropython"], self.paths["upstream"]
        if git(fork, "cat-file", "-t", self.mp_commit).strip() == "commit":
            t = Tree(fork, self.mp_commit, "micropython @" + self.mp_commit[:10])
            return Layers([t]), {"exact": True, "trees": ["openmv/micropython@" + self.mp_commit]}
        # The pinned fork commit is missing from the mirror: use the upstream release the
        # submodule was updated to, with the fork's OpenMV board files on top.
        if self.tag == "v4.7.0":
            # 4.7.0 pins a fork commit of 2025-04-15; the fork branch openmv-1.25.0 (2025-03-31)
            # is the same MicroPython 1.25 plus OpenMV's port patches.
            t = Tree(fork, "openmv-1.25.0", "micropython @openmv-1.25.0")
            return Layers([t]), {"exact": False, "trees": ["openmv/micropython@openmv-1.25.0 (03775bdcb)"],
                                 "note": "pinned commit %s not in the mirror" % self.mp_commit}
        omv = self.paths["openmv"]
        log = git(omv, "log", "--format=%s%n%b", self.tag, "--", "lib/micropython")
        m = re.search(r"(?:MicroPython|to) v?(1\.\d+)(?:\.(\d+))?", log)
        rel = "v%s.%s" % (m.group(1), m.group(2) or "0")
        board = Tree(fork, "openmv-1.25.0", "micropython @openmv-1.25.0",
                     only=["ports/mimxrt/boards/%s/" % BOARD])
        t = Tree(up, rel, "micropython @upstream-" + rel)
        return Layers([board, t]), {
            "exact": False, "trees": ["micropython/micropython@" + rel,
                                      "openmv/micropython@openmv-1.25.0 (board files only)"],
            "note": "pinned fork commit %s not in the mirror; upstream %s (the release the "
                    "submodule was updated to) used instead: OpenMV-only port patches may be missing"
                    % (self.mp_commit, rel)}

    def _submodule(self, path, gitdir):
        """Mount a MicroPython submodule (at the commit MicroPython pins) if its mirror has it."""
        core = self.mp.trees[-1]
        link = git(core.gitdir, "ls-tree", core.rev, path).split()
        if not gitdir or len(link) < 3 or git(gitdir, "cat-file", "-t", link[2]).strip() != "commit":
            return
        t = Tree(gitdir, link[2], "%s @%s" % (path, link[2][:10]), mount=path + "/")
        self.mp.trees.insert(0, t)
        self.mp.files |= t.files
        self.mp_source.setdefault("submodules", {})[path] = link[2]

    # ---- finding files for #include
    def find(self, name, from_path):
        name = name.strip()
        if from_path:
            base = os.path.dirname(from_path)
            cand = os.path.normpath(os.path.join(base, name))
            if self._has(cand):
                return cand, self._show(cand)
        for pre in self.include_dirs():
            cand = os.path.normpath(pre + "/" + name)
            if self._has(cand):
                return cand, self._show(cand)
        return None

    def include_dirs(self):
        b = "mp/ports/mimxrt/boards/%s" % BOARD
        return ["omv/boards/%s" % BOARD, "omv/ports/mimxrt", "omv/common", "omv/modules",
                "omv/imlib", "omv/lib/imlib", "omv/alloc", "omv/sensors", "omv/drivers/sensors",
                "omv/ports", "omv/protocol", "omv", b, "mp/ports/mimxrt", "mp", "mp/py", "mp/extmod",
                "mp/shared/runtime", "mp/shared/timeutils", "mp/lib/cyw43-driver/src",
                "mp/lib/oofatfs"]

    def _has(self, vpath):
        if vpath.startswith("omv/"):
            return vpath[4:] in self.omv.files
        if vpath.startswith("mp/"):
            return vpath[3:] in self.mp.files
        return False

    def _show(self, vpath):
        return self.omv.show(vpath[4:]) if vpath.startswith("omv/") else self.mp.show(vpath[3:])

    def cite(self, vpath):
        if vpath.startswith("omv/"):
            return "%s%s @%s" % (self.omv_root, vpath[4:], self.tag)
        t = self.mp.tree_of(vpath[3:])
        return "micropython:%s @%s" % (vpath[3:], t.label.split("@", 1)[1] if t else "?")

    def grep(self, regex, tree="mp", under=("py/", "extmod/", "ports/mimxrt/", "shared/")):
        """Paths (vpaths) of .c files whose text matches regex."""
        out = []
        if tree == "mp":
            for t in self.mp.trees:
                specs = [u for u in under]
                res = git(t.gitdir, "grep", "-l", "-E", regex, t.rev, "--", *specs)
                for ln in res.split("\n"):
                    if ln:
                        rel = ln.split(":", 1)[1]
                        if rel in t.files and rel.endswith(".c") and self.mp.tree_of(rel) is t:
                            out.append("mp/" + rel)
        else:
            res = git(self.omv.gitdir, "grep", "-l", "-E", regex, self.tag, "--",
                      *[self.omv_root + u for u in under])
            for ln in res.split("\n"):
                if ln:
                    rel = ln.split(":", 1)[1][len(self.omv_root):]
                    if rel.endswith(".c"):
                        out.append("omv/" + rel)
        return sorted(set(out))

    # ---- the build's -D flags
    def defines(self):
        d = {"__GNUC__": 12, "__arm__": 1, "__thumb__": 1, "__thumb2__": 1, "__ARM_ARCH": 7,
             "__ARM_ARCH_7EM__": 1, "__ARM_FP": 4, "__VFP_FP__": 1, "__FPU_PRESENT": 1,
             "CPU_MIMXRT1062DVJ6A": 1, "MIMXRT1062_SERIES": 1, "MIMXRT106x_SERIES": 1,
             "MICROPY_VFS_FAT": 1, "MICROPY_VFS_LFS2": 0, "MICROPY_PY_MACHINE_SDCARD": 1,
             "MICROPY_PY_BLUETOOTH_USE_SYNC_EVENTS": 1, "OPENMV_GIT_TAG": '"%s"' % self.tag}
        for cfg in ("mp_config.h", "omv_mpconfigport.h"):
            if "ports/mimxrt/" + cfg in self.omv.files:  # OpenMV's config, which includes the port's
                d["MP_CONFIGFILE"] = "<%s>" % cfg
                break
        mk = {}
        for vp in ["omv/boards/%s/omv_boardconfig.mk" % BOARD, "omv/boards/%s/board_config.mk" % BOARD,
                   "mp/ports/mimxrt/boards/%s/mpconfigboard.mk" % BOARD]:
            text = self._show(vp) if self._has(vp) else None
            for m in re.finditer(r"^(\w+)\s*\??=\s*([^#\n]*)", text or "", re.M):
                mk[m.group(1)] = m.group(2).strip()
        for k, v in mk.items():
            if re.match(r"(MICROPY_|OMV_)", k) and re.match(r"^(0x[0-9a-fA-F]+|\d+)$", v):
                d[k] = v
        if mk.get("MICROPY_FLOAT_IMPL") == "single":
            d["MICROPY_FLOAT_IMPL"] = "MICROPY_FLOAT_IMPL_FLOAT"
        # -D flags OpenMV's makefiles add (some only under ifeq on the board's settings)
        for top in ("Makefile", "src/Makefile"):
            d.update(make_flags(git(self.paths["openmv"], "show", "%s:%s" % (self.tag, top)), mk))
        for vp in ["omv/ports/mimxrt/omv_portconfig.mk", "omv/ports/mimxrt/port_config.mk",
                   "omv/common/micropy.mk"]:
            if self._has(vp):
                d.update(make_flags(self._show(vp), mk))
        self.mk = mk
        return d


def make_flags(text, mk):
    """-DNAME[=VALUE] flags of a makefile, skipping ifeq/ifneq branches that are not taken."""
    def var(x):
        return re.sub(r"\$\((\w+)\)", lambda m: mk.get(m.group(1), ""), x).strip()
    out, stack = {}, []
    for line in text.replace("\\\n", " ").split("\n"):
        s = line.strip()
        m = re.match(r"(ifeq|ifneq)\s*\(([^,]*),([^)]*)\)", s)
        if m:
            eq = var(m.group(2)) == var(m.group(3))
            stack.append(eq if m.group(1) == "ifeq" else not eq)
            continue
        if re.match(r"ifn?def\b", s):
            name = s.split()[1]
            stack.append((name in mk) == s.startswith("ifdef"))
            continue
        if s.startswith("else") and stack:
            stack[-1] = not stack[-1]
            continue
        if s.startswith("endif") and stack:
            stack.pop()
            continue
        if not all(stack) or "CFLAGS" not in s:
            continue
        for f in re.finditer(r"-D(\w+)(?:=(\S+))?", s):
            val = var(f.group(2) or "1").strip("'\"\\")
            if re.match(r"^-?(0x[0-9a-fA-F]+|\d+)$", val):
                out[f.group(1)] = val
    return out


# ---------------------------------------------------------------- C structures of one file
class CFile:
    def __init__(self, vpath, text):
        self.vpath, self.text = vpath, text
        self.funobjs = {}
        for m in re.finditer(r"MP_DEFINE_CONST_FUN_OBJ_(\w+)\s*\(", text):
            args = [a.strip() for a in split_top(braced(text, m.end() - 1)[0])]
            self.funobjs[args[0]] = {"kind": m.group(1), "func": args[-1], "args": args[1:-1]}
        for m in re.finditer(r"MP_DEFINE_CONST_(?:STATIC|CLASS)METHOD_OBJ\s*\(\s*(\w+)\s*,\s*MP_ROM_PTR\(\s*&(\w+)", text):
            self.funobjs[m.group(1)] = {"kind": "ref", "ref": m.group(2)}
        self.tables = {}
        for m in re.finditer(r"mp_rom_map_elem_t\s+(\w+)\s*\[\s*\]\s*=\s*\{", text):
            self.tables[m.group(1)] = braced(text, m.end() - 1)[0]
        self.dicts = dict(re.findall(r"MP_DEFINE_CONST_DICT\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)", text))
        self.types = {}
        for m in re.finditer(r"MP_DEFINE_CONST_OBJ_TYPE\s*\(", text):
            args = [a.strip() for a in split_top(braced(text, m.end() - 1)[0])]
            slots = dict(zip(args[3::2], args[4::2]))
            self.types[args[0]] = {"name": args[1].replace("MP_QSTR_", ""), "slots": slots}
        for m in re.finditer(r"const\s+mp_obj_type_t\s+(\w+)\s*=\s*\{", text):
            body = braced(text, m.end() - 1)[0]
            slots = dict(re.findall(r"\.(\w+)\s*=\s*([^,]+)", body))
            nm = slots.get("name", "").replace("MP_QSTR_", "")
            self.types[m.group(1)] = {"name": nm, "slots": slots}
        self.modules = {}
        for m in re.finditer(r"const\s+mp_obj_module_t\s+(\w+)\s*=\s*\{", text):
            body = braced(text, m.end() - 1)[0]
            g = re.search(r"\.globals\s*=\s*\([^)]*\)\s*&(\w+)|\.globals\s*=\s*&?(\w+)", body)
            if g:
                self.modules[m.group(1)] = g.group(1) or g.group(2)
        self.registered = re.findall(
            r"MP_REGISTER_(?:EXTENSIBLE_)?MODULE\s*\(\s*MP_QSTR_(\w+)\s*,\s*(\w+)", text)

    def function_body(self, func):
        m = re.search(r"\b%s\s*\(([^;{)]*(?:\([^)]*\)[^;{)]*)*)\)\s*\{" % re.escape(func), self.text)
        if not m:
            return None
        return braced(self.text, m.end() - 1)[0]

    helpers = None  # CFile of OpenMV's py_helper.c, for keyword helpers defined there

    def kwargs(self, func, depth=0):
        """Keyword table of a C function: [{"name", "kw_only", "required", "default"?}] or None."""
        body = self.function_body(func)
        if body is None:
            return None
        m = re.search(r"mp_arg_t\s+\w+\s*\[\s*\]\s*=\s*\{", body)
        if m:
            out = []
            for e in re.finditer(r"\{\s*MP_QSTR_(\w+)\s*,\s*([^,}]+)(?:,\s*\{([^}]*)\})?",
                                 braced(body, m.end() - 1)[0]):
                flags = e.group(2)
                k = {"name": e.group(1), "kw_only": "KW_ONLY" in flags, "required": "REQUIRED" in flags}
                dm = re.match(r"\s*\.u_(int|bool)\s*=\s*(.+?)\s*$", e.group(3) or "")
                if dm:
                    k["default"] = dm.group(2)
                out.append(k)
            return out
        names = []
        for call in re.finditer(r"\b(py_helper_keyword_\w+|py_helper_arg_\w+)\s*\(([^;]*)", body):
            inline = re.findall(r"MP_QSTR_(\w+)", call.group(2))
            if inline:
                names += inline
            elif self.helpers is not None and "kw_args" in call.group(2):
                hb = self.helpers.function_body(call.group(1)) or ""
                names += re.findall(r"MP_(?:OBJ_NEW|ROM)_QSTR\(\s*MP_QSTR_(\w+)", hb)
        names += re.findall(r"mp_map_lookup\s*\(\s*kw_args\s*,\s*MP_(?:OBJ_NEW|ROM)_QSTR\(\s*MP_QSTR_(\w+)", body)
        if names:
            # looked up by hand: other keywords are silently ignored
            return [{"name": n, "kw_only": False, "required": False, "lax": True}
                    for n in dict.fromkeys(names)]
        if depth < 2:
            for call in re.finditer(r"\b(\w+)\s*\(([^;()]*?)\bn_args\s*,\s*\w*args\s*,\s*kw_args", body):
                if call.group(1) == func:
                    continue
                k = self.kwargs(call.group(1), depth + 1)
                if k is not None:
                    return self._bind(call.group(1), call.group(2), k)
        return None

    def _bind(self, callee, lead, kws):
        """Defaults that name a parameter of the callee take the caller's argument."""
        m = re.search(r"\b%s\s*\(([^)]*)\)\s*\{" % re.escape(callee), self.text)
        if not m:
            return kws
        params = [p.strip().split()[-1].lstrip("*") for p in m.group(1).split(",") if p.strip()]
        args = [a.strip() for a in split_top(lead) if a.strip()]
        bound = dict(zip(params, args))
        return [dict(k, default=bound.get(k.get("default"), k.get("default"))) for k in kws]


KEEP = frozenset(["MP_ROM_QSTR", "MP_ROM_PTR", "MP_ROM_INT", "MP_OBJ_NEW_SMALL_INT", "MP_OBJ_NEW_QSTR",
                  "MP_ROM_NONE", "MP_ROM_TRUE", "MP_ROM_FALSE", "MP_ROM_CPTR", "X"])


def table_entries(pp, body):
    """(name, value) pairs of a table body, macros expanded (e.g. MICROPY_PY_MACHINE_EXTRA_GLOBALS)."""
    body = " ".join(pp.expand(tokens(body), KEEP))
    out = []
    for part in split_top(body):
        p = part.strip()
        # X(name) items of an X-macro list (errno: MICROPY_PY_ERRNO_LIST)
        xs = re.findall(r"\bX\s*\(\s*(\w+)\s*\)", p)
        if xs:
            out += [(x, "MP_ROM_INT(MP_%s)" % x) for x in xs]
            p = re.sub(r"\bX\s*\(\s*(\w+)\s*\)", "", p).strip()
        if not p.startswith("{"):
            continue
        kv = split_top(braced(p, 0)[0])
        if len(kv) < 2:
            continue
        km = re.search(r"MP_QSTR_(\w+)", kv[0])
        if km:
            out.append((km.group(1), re.sub(r"\s*([()&,])\s*", r"\1", kv[1].strip())))
    return out


class Index:
    """Preprocessed C files of one firmware, with cross-file lookups."""

    def __init__(self, fw):
        self.fw = fw
        self.pp = Preprocessor(fw.find, fw.defines())
        self.pp.run("mp/py/mpconfig.h", fw._show("mp/py/mpconfig.h"))
        self.files = {}

    def load(self, vpath):
        if vpath not in self.files:
            text = self.fw._show(vpath)
            self.files[vpath] = CFile(vpath, self.pp.run(vpath, text) if text else "")
            if vpath.startswith("omv/") and not vpath.endswith("/py_helper.c"):
                self.files[vpath].helpers = self.load("omv/modules/py_helper.c")
        return self.files[vpath]

    def find_type(self, tname, hint=None):
        for cf in ([hint] if hint else []) + list(self.files.values()):
            if cf and tname in cf.types:
                return cf
        tree = "omv" if hint and hint.vpath.startswith("omv/") else "mp"
        for t in (tree, "mp" if tree == "omv" else "omv"):
            under = ("py/", "extmod/", "ports/mimxrt/", "shared/") if t == "mp" else ("modules/", "ports/mimxrt/", "common/", "imlib/", "lib/imlib/")
            for vp in self.fw.grep(r"^\s*%s,|mp_obj_type_t %s = |MP_DEFINE_CONST_OBJ_TYPE\(%s," % (tname, tname, tname), t, under):
                cf = self.load(vp)
                if tname in cf.types:
                    return cf
        return None

    def funobj(self, objname, cf):
        for c in [cf] + list(self.files.values()):
            if objname in c.funobjs:
                return c, c.funobjs[objname]
        return None, None

    def describe(self, cf, table, full=False, only=None):
        """names / constants / functions (kwargs) / classes of a table."""
        entries = table_entries(self.pp, cf.tables.get(table, ""))
        names = sorted(n for n, _ in entries if not n.startswith("__") or n in ("__call__",))
        out = {"names": names}
        consts, funcs, classes = {}, {}, {}
        for name, val in entries:
            vm = re.match(r"MP_ROM_INT\((.*)\)$|MP_OBJ_NEW_SMALL_INT\((.*)\)$", val, re.S)
            if vm:
                try:
                    consts[name] = self.pp.value(vm.group(1) or vm.group(2))
                except (Unknown, Exception):
                    pass
                continue
            pm = re.match(r"MP_ROM_PTR\(\s*&(\w+)\s*\)$", val)
            if not pm:
                continue
            obj = pm.group(1)
            c2, fo = self.funobj(obj, cf)
            if fo is not None:
                if fo["kind"] == "ref":
                    c2, fo = self.funobj(fo["ref"], c2)
                if fo is None:
                    continue
                if full or (only and name in only):
                    kw = c2.kwargs(fo["func"])
                    if kw is None and fo["kind"] == "KW":
                        # a keyword function that reads no keyword: any keyword is ignored
                        kw = [{"lax": True}]
                    if kw is not None:
                        lax = any(k.get("lax") for k in kw)
                        kw = [k for k in kw if "name" in k]
                        funcs[name] = {"kwargs": [k["name"] for k in kw],
                                       "defaults": {k["name"]: self.default(k["default"]) for k in kw
                                                    if k.get("default") is not None},
                                       "kw_only": [k["name"] for k in kw if k["kw_only"]],
                                       "required": [k["name"] for k in kw if k["required"]]}
                        funcs[name]["kwargs"].sort()
                        if lax:
                            funcs[name]["ignores_unknown_kwargs"] = True
                        if not funcs[name]["defaults"]:
                            del funcs[name]["defaults"]
                        if fo["kind"] in ("KW", "VAR", "VAR_BETWEEN") and fo["args"]:
                            try:
                                funcs[name]["min_args"] = int(fo["args"][0])
                            except ValueError:
                                pass
        if consts:
            out["constants"] = consts
        if funcs:
            out["functions"] = funcs
        return out, entries

    def default(self, expr):
        if expr in ("true", "false"):
            return expr == "true"
        try:
            return self.pp.value(expr)
        except Exception:
            return expr

    def type_info(self, tname, hint, methods=None):
        cf = self.find_type(tname, hint)
        if cf is None:
            return None
        t = cf.types[tname]
        info = {"source": "%s %s" % (self.fw.cite(cf.vpath), tname)}
        ld = t["slots"].get("locals_dict", "")
        dm = re.search(r"&(\w+)", ld)
        if dm:
            table = cf.dicts.get(dm.group(1))
            if table:
                d, _ = self.describe(cf, table, full=methods is None, only=methods)
                info["names"] = d["names"]
                if "constants" in d:
                    info["constants"] = d["constants"]
                if "functions" in d:
                    info["methods"] = d.pop("functions")
        mk = t["slots"].get("make_new")
        if mk:
            kw = cf.kwargs(mk.strip())
            if kw is not None:
                info["make_new_kwargs"] = [k["name"] for k in kw]
                defaults = {k["name"]: self.default(k["default"]) for k in kw if k.get("default")}
                if defaults:
                    info["make_new_defaults"] = defaults
        return info

    def module(self, name, files):
        """The module registered as `name` in one of `files` (vpaths), or None if not built."""
        for vp in files:
            cf = self.load(vp)
            for reg, modobj in cf.registered:
                if reg != name:
                    continue
                table = cf.dicts.get(cf.modules.get(modobj, ""), None)
                if table is None:
                    continue
                return cf, table, modobj
        return None


# ---------------------------------------------------------------- frozen Python modules
def py_names(src):
    """Top-level names of a Python module (and its `from X import *` sources)."""
    tree = ast.parse(src)
    names, star, classes = set(), [], {}
    for node in tree.body:
        _collect(node, names, star, classes)
    return names, star, classes


def _collect(node, names, star, classes):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names.add(node.name)
    elif isinstance(node, ast.ClassDef):
        names.add(node.name)
        classes[node.name] = sorted(n.name for n in node.body if isinstance(n, (ast.FunctionDef,
                                                                             ast.AsyncFunctionDef)))
    elif isinstance(node, ast.Assign):
        for t in node.targets:
            if isinstance(t, ast.Name):
                names.add(t.id)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for a in node.names:
            if a.name == "*":
                star.append(node.module)
    elif isinstance(node, (ast.If, ast.Try)):
        for sub in node.body + getattr(node, "orelse", []) + [h for x in getattr(node, "handlers", []) for h in x.body]:
            _collect(sub, names, star, classes)


def py_assign(src, name):
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return ast.unparse(node.value)
    return None


class MpLib:
    """micropython-lib at the commit the firmware's MicroPython pins."""

    def __init__(self, gitdir, fw):
        self.gitdir = gitdir
        link = git(fw.mp.trees[-1].gitdir, "ls-tree", fw.mp.trees[-1].rev, "lib/micropython-lib").split()
        self.commit = link[2] if len(link) > 2 else None
        self.ok = bool(self.commit) and git(gitdir, "cat-file", "-t", self.commit).strip() == "commit"
        self.via = "lib/micropython-lib gitlink of " + fw.mp.trees[-1].label

    def find(self, package):
        if not self.ok:
            return None
        for ln in git(self.gitdir, "ls-tree", "-r", "--name-only", self.commit).split("\n"):
            if ln.endswith("/%s/%s.py" % (package, package)):
                return ln
        return None

    def show(self, path):
        return git(self.gitdir, "show", "%s:%s" % (self.commit, path))

    def cite(self, path):
        return "micropython-lib:%s @%s" % (path, self.commit[:10])


# ---------------------------------------------------------------- the profile
def build(tag, paths):
    fw = Firmware(tag, paths)
    ix = Index(fw)
    mplib = MpLib(paths["mplib"], fw)
    v = fw.version
    prof = {
        "firmware": list(v),
        "tag": tag,
        "micropython": mp_version(fw),
        "micropython_commit": fw.mp_commit,
        "micropython_source": fw.mp_source,
        "micropython_lib_commit": mplib.commit,
        "layout": layout(fw),
        "modules": {},
        "frozen": frozen_list(fw),
    }
    mods = prof["modules"]
    omv_mod = lambda rx: fw.grep(rx, "omv", ("modules/", "ports/mimxrt/", "common/"))  # noqa: E731
    # ---- sensor / csi
    for name in ("sensor", "csi"):
        regs = omv_mod(r"MP_REGISTER_MODULE\(MP_QSTR_%s," % name)
        got = ix.module(name, regs)
        if got is None:
            mods[name] = None
            continue
        cf, table, modobj = got
        other = [r for r, o in cf.registered if o == modobj and r != name]
        if name == "csi" and other:
            mods[name] = {"alias_of": other[0], "source": "%s MP_REGISTER_MODULE" % fw.cite(cf.vpath)}
            continue
        d, _ = ix.describe(cf, table, only=["skip_frames", "snapshot", "set_auto_gain",
                                            "set_auto_exposure", "set_auto_whitebal", "reset"])
        d["source"] = "%s %s" % (fw.cite(cf.vpath), table)
        if name == "csi":
            d["classes"] = {"CSI": ix.type_info("py_csi_type", cf)}
        mods[name] = d
    # ---- image
    got = ix.module("image", omv_mod(r"MP_REGISTER_MODULE\(MP_QSTR_image,"))
    cf, table, _ = got
    d, _ = ix.describe(cf, table, only=["load_decriptor", "save_descriptor"])
    d["source"] = "%s %s" % (fw.cite(cf.vpath), table)
    img = ix.type_info("py_image_type", cf, methods=IMAGE_METHODS)
    d["classes"] = {"Image": img}
    draw_string_positional(cf, img)
    mods["image"] = d
    # ---- omv
    got = ix.module("omv", omv_mod(r"MP_REGISTER_MODULE\(MP_QSTR_omv,"))
    cf, table, _ = got
    d, entries = ix.describe(cf, table)
    d["source"] = "%s %s" % (fw.cite(cf.vpath), table)
    d["ints"] = sorted(n for n, val in entries if re.match(r"MP_ROM_INT|MP_OBJ_NEW_SMALL_INT", val))
    d["strings"] = sorted(n for n, val in entries if re.match(r"MP_ROM_QSTR|MP_ROM_PTR\(&\w*str", val)
                          and n != "__name__")
    mods["omv"] = d
    # ---- MicroPython modules
    for name in MP_MODULES:
        mods[name] = mp_module(ix, fw, name)
    machine_extras(ix, fw, mods)
    network_extras(ix, fw, mods)
    # ---- frozen Python modules over / beside the builtins
    frozen_python(fw, mplib, mods, prof["frozen"])
    prof["facts"] = facts(ix, fw, mplib, prof)
    return prof


def layout(fw):
    """"split" when the frozen _boot.py mounts /flash and /sdcard (4.6+), else "root"."""
    main = fw._show("omv/ports/mimxrt/main.c") or ""
    return "split" if re.search(r'pyexec_frozen_module\(\s*"_boot\.py"', main) else "root"


def mp_version(fw):
    text = fw.mp.show("py/mpconfig.h") or ""
    return [int(re.search(r"#define MICROPY_VERSION_%s (\d+)" % k, text).group(1))
            for k in ("MAJOR", "MINOR", "MICRO")]


def frozen_list(fw):
    text = fw.omv.show("boards/%s/manifest.py" % BOARD) or ""
    req = re.findall(r'require\("([\w-]+)"', text)
    frz = re.findall(r'freeze\s*\(\s*"[^"]*"\s*,\s*"([\w.]+)\.py"', text)
    inc = re.findall(r'include\("([^"]+)"', text)
    return {"source": "%sboards/%s/manifest.py @%s" % (fw.omv_root, BOARD, fw.tag),
            "require": sorted(req), "freeze": sorted(frz), "include": inc}


def mp_module(ix, fw, name):
    alt = {"time": ["time", "utime"], "os": ["os", "uos"], "select": ["select", "uselect"],
           "socket": ["socket", "usocket"], "struct": ["struct", "ustruct"],
           "hashlib": ["hashlib", "uhashlib"], "binascii": ["binascii", "ubinascii"],
           "errno": ["errno", "uerrno"], "json": ["json", "ujson"], "io": ["io", "uio"],
           "sys": ["sys", "usys"], "machine": ["machine", "umachine"], "network": ["network"],
           "vfs": ["vfs"], "deflate": ["deflate"], "gc": ["gc"], "micropython": ["micropython"],
           "mimxrt": ["mimxrt"]}[name]
    for reg in alt:
        files = fw.grep(r"MP_REGISTER_(EXTENSIBLE_)?MODULE\(MP_QSTR_%s," % reg, "mp")
        got = ix.module(reg, files)
        if got is None:
            continue
        cf, table, _ = got
        d, _ = ix.describe(cf, table, only=["mount", "poll", "getaddrinfo", "deepsleep"])
        d["source"] = "%s %s" % (fw.cite(cf.vpath), table)
        if reg != name:
            d["registered_as"] = reg
        ext = re.search(r"MP_REGISTER_EXTENSIBLE_MODULE\(MP_QSTR_%s," % reg, cf.text)
        if ext:
            d["extensible"] = True
        return d
    return None


def machine_extras(ix, fw, mods):
    m = mods.get("machine")
    if not m:
        return
    classes = {}
    files = fw.grep(r"MP_REGISTER_(EXTENSIBLE_)?MODULE\(MP_QSTR_u?machine,", "mp")
    cf = ix.module(m.get("registered_as", "machine"), files)[0]
    for cname, tname in (("RTC", "machine_rtc_type"), ("WDT", "machine_wdt_type"),
                         ("Pin", "machine_pin_type"), ("SDCard", "machine_sdcard_type")):
        info = ix.type_info(tname, cf, methods=["init", "datetime", "readblocks", "present",
                                                 "feed", "value", "irq", "ioctl", "writeblocks"])
        if info is not None:
            info["registered"] = cname in m["names"]
        classes[cname] = info
    m["classes"] = classes


def network_extras(ix, fw, mods):
    n = mods.get("network")
    if not n:
        return
    info = ix.type_info("mp_network_cyw43_type", None,
                        methods=["config", "connect", "scan", "status", "ifconfig", "active"])
    n.setdefault("classes", {})["WLAN"] = info


def draw_string_positional(cf, img):
    """How draw_string takes its position: "x, y, text" (4.x) or "(x, y), text" (5.0)."""
    fo = cf.funobjs.get("py_image_draw_string_obj")
    body = cf.function_body(fo["func"]) if fo else None
    if not body or "methods" not in img:
        return
    ds = img["methods"].setdefault("draw_string", {})
    if re.search(r"py_helper_consume_array\(\s*n_args\s*,\s*\w*args\s*,\s*1\s*,\s*3\b", body):
        # three positionals, or one 3-sequence (x, y, text)
        ds["positional"] = "x, y, text"
    elif re.search(r"mp_obj_get_array_fixed_n\(\s*\w*args\[1\]\s*,\s*2\b", body):
        ds["positional"] = "(x, y), text"


def frozen_python(fw, mplib, mods, frozen):
    """time/ntptime/logging as frozen; machine.py's LED wrapper."""
    # machine.py (OpenMV's own) wraps the builtin machine module
    src = fw.scripts.show("machine.py")
    if src and mods.get("machine") is not None and "machine" in frozen["freeze"]:
        names, star, classes = py_names(src)
        m = mods["machine"]
        m["frozen_wrapper"] = "scripts/libraries/machine.py @%s" % fw.tag
        m["names"] = sorted(set(m["names"]) | {n for n in names if not n.startswith("_")})
        if "LED" in classes:
            m["classes"]["LED"] = {"source": "scripts/libraries/machine.py LED @%s" % fw.tag,
                                   "names": [n for n in classes["LED"] if not n.startswith("_")],
                                   "make_new_args": led_args(src),
                                   "registered": True}
    # micropython-lib packages frozen with require()
    for pkg in ("time", "ntptime", "logging"):
        if pkg not in frozen["require"]:
            if pkg != "time":
                mods[pkg] = None
            continue
        path = mplib.find(pkg)
        if path is None:
            continue
        src = mplib.show(path)
        names, star, classes = py_names(src)
        entry = {"source": mplib.cite(path), "frozen": True}
        if pkg == "time" and mods.get("time"):
            builtin = mods["time"]
            entry["names"] = sorted(set(builtin["names"]) | {n for n in names if not n.startswith("_")})
            entry["builtin"] = {k: builtin[k] for k in builtin if k != "names"}
            entry["builtin"]["names"] = builtin["names"]
            entry["frozen_adds"] = sorted(n for n in names if not n.startswith("_") and n not in builtin["names"])
            mods["time"] = entry
            continue
        entry["names"] = sorted(n for n in names if not n.startswith("_"))
        if pkg == "ntptime":
            for var in ("host", "timeout"):
                entry.setdefault("defaults", {})[var] = py_assign(src, var)
        if classes:
            entry["classes"] = {c: {"names": ms} for c, ms in classes.items()}
        mods[pkg] = entry


def led_args(src):
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "LED":
            for f in node.body:
                if isinstance(f, ast.FunctionDef) and f.name == "__init__":
                    return [a.arg for a in f.args.args[1:]]
    return None


# ---------------------------------------------------------------- facts
def facts(ix, fw, mplib, prof):
    from tools.sim.profiles import facts as F
    return F.collect(ix, fw, mplib, prof)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tags", nargs="+")
    for k, v in DEFAULTS.items():
        ap.add_argument("--" + k, default=v)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--survey", action="store_true", help="print the differences, write nothing")
    a = ap.parse_args(argv)
    paths = {k: getattr(a, k) for k in DEFAULTS}
    if a.survey:
        return survey(a.tags, paths)
    for tag in a.tags:
        tag = tag if tag.startswith("v") else "v" + tag
        prof = build(tag, paths)
        out = os.path.join(a.out, tag.lstrip("v") + ".json")
        with open(out, "w") as f:
            json.dump(prof, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote", out, file=sys.stderr)


def survey_row(prof):
    """The app-relevant differences of one profile, one short line each (for docs/firmware-facts.md)."""
    m, f = prof["modules"], prof["facts"]
    csi = m.get("csi")
    img = m["image"]
    wlan = (m["network"].get("classes") or {}).get("WLAN") or {}
    return {
        "micropython": ".".join(map(str, prof["micropython"])) + ("" if prof["micropython_source"]["exact"] else "~"),
        "layout": prof["layout"],
        "csi": None if csi is None else ("alias:" + csi["alias_of"]) if "alias_of" in csi else
        "CSI(" + ",".join(csi["classes"]["CSI"].get("make_new_kwargs") or []) + ")",
        "JPEG_SUBSAMPLING_422": "JPEG_SUBSAMPLING_422" in img["names"],
        "omv_ints": m["omv"].get("ints"),
        "disable_fb": "disable_fb" in m["omv"]["names"],
        "PM_NONE": "PM_NONE" in (wlan.get("names") or []),
        "md5": "md5" in (m["hashlib"] or {}).get("names", []),
        "vfs": m.get("vfs") is not None,
        "draw_string": img["classes"]["Image"]["methods"].get("draw_string", {}).get("positional"),
        "save_kw_only": img["classes"]["Image"]["methods"].get("save", {}).get("kw_only"),
        "to_jpeg_strict": not img["classes"]["Image"]["methods"]["to_jpeg"].get("ignores_unknown_kwargs"),
        "TCP_NODELAY": "TCP_NODELAY" in m["socket"]["names"],
        "deflate": m.get("deflate") is not None,
        "framebuffer_pool": f.get("framebuffer_pool", {}).get("value"),
        **{k: f[k]["value"] for k in ("gmtime_overflow_from", "ntptime_era_pivot_year",
                                      "main_skipped_when_boot_py_raises", "gc_heap_regions") if k in f},
    }


def survey(tags, paths):
    for tag in tags:
        tag = tag if tag.startswith("v") else "v" + tag
        print(tag, json.dumps(survey_row(build(tag, paths)), sort_keys=True))


if __name__ == "__main__":
    main()
