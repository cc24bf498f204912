# Runs the test_* functions of one firmware test module inside MicroPython and reports each
# one on its own line, so pytest can show every function as an item with its traceback.
#   micropython _runner.py MODULE
import sys
import io


def main():
    name = sys.argv[1]
    mod = __import__(name)
    tests = sorted(k for k in dir(mod) if k.startswith("test_"))
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
