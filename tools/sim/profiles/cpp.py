# A small C preprocessor and constant-expression evaluator, enough to read the
# firmware's module tables the way the compiler sees them for one board.
# Used only by extract.py (run by hand), never at test time.
import re

TOKEN = re.compile(r"""\s*(
    0[xX][0-9a-fA-F]+[uUlL]* | \d+\.\d*(?:[eE][-+]?\d+)?[fF]? | \d+[uUlL]* |
    '(?:\\.|[^'\\])' | "(?:\\.|[^"\\])*" |
    [A-Za-z_]\w* | <<|>>|<=|>=|==|!=|&&|\|\||\#\#|\.\.\.|->| [-+*/%<>&|^!~?:(),\#\[\]{};.=]
)""", re.X)
COMMENT = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
TYPE_WORDS = {"int", "unsigned", "signed", "long", "short", "char", "const", "void", "float", "double"}


class Unknown(Exception):
    """An identifier with no value: the constant cannot be resolved."""


def tokens(text):
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            pos += 1  # a stray character (e.g. '@' or '$'): skip it
            continue
        out.append(m.group(1))
        pos = m.end()
    return out


def strip_comments(text):
    def sub(m):
        s = m.group(0)
        if s.startswith("/*"):
            return " " + "\n" * s.count("\n")
        return " " if s.startswith("//") else s
    return COMMENT.sub(sub, text)


def logical_lines(text):
    return strip_comments(text.replace("\\\r\n", "").replace("\\\n", "")).split("\n")


class Macro:
    def __init__(self, params, body):
        self.params = params      # None for object-like
        self.body = tokens(body)


class Preprocessor:
    """Runs #include/#define/#if over files found through `find(name, from_path)`.
    Keeps every macro and enum value seen; returns the active text of each file."""

    def __init__(self, find, defines=None):
        self.find = find          # (include name, including path) -> (path, text) or None
        self.macros = {}
        self.enums = {}
        self.done = set()         # headers already processed (they all have guards)
        self.missing = set()
        self.active = {}          # path -> active text
        for k, v in (defines or {}).items():
            self.macros[k] = Macro(None, str(v))

    # ---- macros
    def define(self, line):
        m = re.match(r"(\w+)(\(([^)]*)\))?\s*(.*)$", line)
        if not m:
            return
        params = None
        if m.group(2) is not None:
            params = [p.strip() for p in m.group(3).split(",") if p.strip()]
        self.macros[m.group(1)] = Macro(params, m.group(4))

    def expand(self, toks, hide=frozenset(), depth=0):
        if depth > 60:
            return toks
        out, i = [], 0
        while i < len(toks):
            t = toks[i]
            mac = self.macros.get(t)
            if mac is None or t in hide:
                out.append(t)
                i += 1
                continue
            if mac.params is None:
                out.extend(self.expand(mac.body, hide | {t}, depth + 1))
                i += 1
                continue
            if i + 1 >= len(toks) or toks[i + 1] != "(":
                out.append(t)
                i += 1
                continue
            args, j = self._args(toks, i + 2)
            out.extend(self.expand(self._subst(mac, args), hide | {t}, depth + 1))
            i = j
        return out

    @staticmethod
    def _args(toks, j):
        args, cur, level = [], [], 0
        while j < len(toks):
            t = toks[j]
            if t == "(":
                level += 1
            elif t == ")":
                if level == 0:
                    args.append(cur)
                    return args, j + 1
                level -= 1
            elif t == "," and level == 0:
                args.append(cur)
                cur = []
                j += 1
                continue
            cur.append(t)
            j += 1
        args.append(cur)
        return args, j

    def _subst(self, mac, args):
        names = list(mac.params)
        va = "..." in names
        if va:
            names.remove("...")
            extra = args[len(names):]
            va_toks = []
            for k, a in enumerate(extra):
                va_toks += (["," ] if k else []) + a
        amap = {n: (args[k] if k < len(args) else []) for k, n in enumerate(names)}
        if va:
            amap["__VA_ARGS__"] = va_toks
        out, body, k = [], mac.body, 0
        while k < len(body):
            t = body[k]
            if t == "#" and k + 1 < len(body) and body[k + 1] in amap:
                out.append('"%s"' % " ".join(amap[body[k + 1]]))
                k += 2
                continue
            if t == "##" and out and k + 1 < len(body):
                nxt = amap.get(body[k + 1], [body[k + 1]])
                out[-1] = out[-1] + (nxt[0] if nxt else "")
                out.extend(nxt[1:])
                k += 2
                continue
            if t in amap:
                nxt_paste = k + 1 < len(body) and body[k + 1] == "##"
                out.extend(amap[t] if nxt_paste else self.expand(amap[t]))
            else:
                out.append(t)
            k += 1
        return out

    # ---- expressions
    def eval_if(self, expr):
        toks = tokens(expr)
        res = []
        i = 0
        while i < len(toks):
            if toks[i] == "defined":
                if toks[i + 1] == "(":
                    name, i = toks[i + 2], i + 4
                else:
                    name, i = toks[i + 1], i + 2
                res.append("1" if name in self.macros else "0")
            else:
                res.append(toks[i])
                i += 1
        res = self.expand(res)
        res = ["0" if re.match(r"[A-Za-z_]\w*$", t) and t not in ("true",) else ("1" if t == "true" else t)
               for t in res]
        try:
            return bool(Evaluator(res, {}).run())
        except Exception:
            return False

    def value(self, expr):
        """Value of a C constant expression, or raise Unknown."""
        toks = self.expand(tokens(expr) if isinstance(expr, str) else expr)
        return Evaluator(toks, self.enums).run()

    # ---- files
    def run(self, path, text=None):
        if path in self.active:
            return self.active[path]
        if text is None:
            found = self.find(path, None)
            if not found:
                self.missing.add(path)
                return ""
            path, text = found
        self.done.add(path)
        active = []
        stack = []  # (this branch active, some branch taken, parent active)
        live = True
        for line in logical_lines(text):
            s = line.strip()
            if not s.startswith("#"):
                if live:
                    active.append(line)
                continue
            m = re.match(r"#\s*(\w+)\s*(.*)$", s)
            if not m:
                continue
            d, rest = m.group(1), m.group(2).strip()
            if d in ("if", "ifdef", "ifndef"):
                if not live:
                    stack.append((False, True, False))
                    continue
                if d == "if":
                    c = self.eval_if(rest)
                elif d == "ifdef":
                    c = rest.split()[0] in self.macros if rest else False
                else:
                    c = rest.split()[0] not in self.macros if rest else False
                stack.append((c, c, True))
                live = c
            elif d == "elif":
                if not stack:
                    continue
                _, taken, parent = stack[-1]
                c = parent and not taken and self.eval_if(rest)
                stack[-1] = (c, taken or c, parent)
                live = c
            elif d == "else":
                if not stack:
                    continue
                _, taken, parent = stack[-1]
                c = parent and not taken
                stack[-1] = (c, True, parent)
                live = c
            elif d == "endif":
                if stack:
                    stack.pop()
                live = stack[-1][0] if stack else True
            elif not live:
                continue
            elif d == "define":
                self.define(rest)
            elif d == "undef":
                self.macros.pop(rest.split()[0] if rest else "", None)
            elif d == "include":
                self._include(rest, path)
        out = "\n".join(active)
        self.active[path] = out
        self._enums(out)
        return out

    def _include(self, rest, path):
        if not (rest.startswith('"') or rest.startswith("<")):
            rest = " ".join(self.expand(tokens(rest)))
        m = re.match(r'["<]\s*([^">]+?)\s*[">]', rest.replace(" ", "") if rest.startswith("<") else rest)
        if not m:
            return
        found = self.find(m.group(1), path)
        if not found:
            self.missing.add(m.group(1))
            return
        if found[0] in self.done:
            return
        self.run(found[0], found[1])

    def _enums(self, text):
        for m in re.finditer(r"\benum\b\s*\w*\s*\{", text):
            body, _ = braced(text, m.end() - 1)
            nxt = 0
            for item in split_top(body):
                item = item.strip()
                if not item:
                    continue
                mm = re.match(r"([A-Za-z_]\w*)\s*(?:=\s*(.+))?$", item, re.S)
                if not mm:
                    break
                if mm.group(2) is not None:
                    try:
                        nxt = self.value(mm.group(2))
                    except Exception:
                        nxt = None
                if nxt is not None:
                    self.enums[mm.group(1)] = nxt
                    nxt += 1


def braced(text, start):
    """Text inside the bracket at text[start] and the index after its match."""
    open_c = text[start]
    close_c = {"{": "}", "(": ")", "[": "]"}[open_c]
    level, i = 0, start
    while i < len(text):
        c = text[i]
        if c == '"':
            i = text.index('"', i + 1) if '"' in text[i + 1:] else len(text)
            while text[i - 1] == "\\" and i < len(text):
                i = text.index('"', i + 1)
        elif c == open_c:
            level += 1
        elif c == close_c:
            level -= 1
            if level == 0:
                return text[start + 1:i], i + 1
        i += 1
    return text[start + 1:], len(text)


def split_top(body):
    """Split at commas that are not inside brackets."""
    parts, cur, level = [], [], 0
    for c in body:
        if c in "({[":
            level += 1
        elif c in ")}]":
            level -= 1
        if c == "," and level == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


class Evaluator:
    """Pratt parser for C integer constant expressions (casts skipped)."""
    BIN = {"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7,
           ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}

    def __init__(self, toks, names):
        self.t = toks
        self.i = 0
        self.names = names

    def run(self):
        if not self.t:
            raise Unknown("empty")
        v = self.expr(0)
        if self.i != len(self.t):
            raise Unknown("trailing " + " ".join(self.t[self.i:]))
        return v

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expr(self, prec):
        left = self.unary()
        while True:
            op = self.peek()
            if op == "?" and prec == 0:
                self.take()
                a = self.expr(0)
                if self.take() != ":":
                    raise Unknown("?:")
                b = self.expr(0)
                left = a if left else b
                continue
            p = self.BIN.get(op)
            if p is None or p <= prec:
                return left
            self.take()
            right = self.expr(p)
            left = self.binop(op, left, right)

    @staticmethod
    def binop(op, a, b):
        if op == "/":
            return int(a / b) if isinstance(a, int) else a / b
        if op == "%":
            return a - b * int(a / b)
        if op == "&&":
            return int(bool(a) and bool(b))
        if op == "||":
            return int(bool(a) or bool(b))
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return int(eval("a %s b" % op))
        return eval("a %s b" % op)

    def unary(self):
        t = self.take()
        if t is None:
            raise Unknown("end")
        if t == "(":
            if self._is_cast():
                return self.unary()
            v = self.expr(0)
            if self.take() != ")":
                raise Unknown(")")
            return v
        if t == "-":
            return -self.unary()
        if t == "+":
            return self.unary()
        if t == "!":
            return int(not self.unary())
        if t == "~":
            return ~self.unary()
        if re.match(r"0[xX]", t):
            return int(t.rstrip("uUlL"), 16)
        if re.match(r"\d+\.", t):
            return float(t.rstrip("fF"))
        if t[0].isdigit():
            s = t.rstrip("uUlL")
            return int(s, 8) if len(s) > 1 and s[0] == "0" else int(s)
        if t[0] == "'":
            return ord(t[1:-1].encode().decode("unicode_escape"))
        if t in self.names:
            return self.names[t]
        raise Unknown(t)

    def _is_cast(self):
        j = self.i
        words = []
        while j < len(self.t) and self.t[j] not in (")",):
            words.append(self.t[j])
            j += 1
        if not words or j >= len(self.t):
            return False
        words = [w for w in words if w != "*"]
        if all(w in TYPE_WORDS or w.endswith("_t") for w in words):
            self.i = j + 1
            return True
        return False
