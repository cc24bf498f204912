# Runs the test_* functions of one firmware test module inside MicroPython and reports each
# one on its own line, so pytest can show every function as an item with its traceback.
#   micropython _runner.py MODULE [--skip NAME,...]
#   (on the Cortex-M7 tool, tests/m7kit.py adds --m7 REPO: the project's place on the target)
import sys
import io


def options(args):
    opts = {"--skip": "", "--m7": None}
    for i in range(0, len(args) - 1, 2):
        opts[args[i]] = args[i + 1]
    return opts


def main():
    name = sys.argv[1]
    opts = options(sys.argv[2:])
    if opts["--m7"]:
        sys.path.insert(0, opts["--m7"] + "/tests/firmware")
        import m7port
        m7port.setup(opts["--m7"])
    skip = opts["--skip"].split(",")
    mod = __import__(name)
    tests = sorted(k for k in dir(mod) if k.startswith("test_") and k not in skip)
    for t in tests:
        fn = getattr(mod, t)
        try:
            fn()
            print("@@PASS", t)
        except Exception as e:
            buf = io.StringIO()
            sys.print_exception(e, buf)
            print("@@FAIL", t)
            for line in buf.getvalue().split("\n"):
                print("@@|", line)
    print("@@DONE")


main()
