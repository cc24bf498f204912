# The REPL the board falls into when main.py ends. For now it idles until the host ends
# the process (a serial port speaking the raw REPL comes with the deploy tooling).
import utime


def run():
    while True:
        utime.sleep_ms(1000)
