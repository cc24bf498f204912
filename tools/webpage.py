"""python -m tools.webpage: compress the camera's web page (lib/webd/index.html) into
lib/webd/index.html.gz, which the camera serves to browsers that take gzip. Run it after
editing the page (a test checks that the two agree). The camera compresses nothing itself."""
import gzip
import sys

from tools.appfiles import ROOT

PAGE = ROOT / "lib" / "webd" / "index.html"


def build(page=PAGE):
    """Write page.gz when it is smaller than the page (remove it otherwise); returns the
    sizes (raw, gzip or None)."""
    raw = page.read_bytes()
    gz = gzip.compress(raw, compresslevel=9, mtime=0)
    out = page.with_name(page.name + ".gz")
    if len(gz) < len(raw):
        out.write_bytes(gz)
        return len(raw), len(gz)
    out.unlink(missing_ok=True)
    return len(raw), None


if __name__ == "__main__":
    raw, gz = build()
    print("%s: %d bytes, gzip %s" % (PAGE.relative_to(ROOT), raw, gz))
    sys.exit(0)
