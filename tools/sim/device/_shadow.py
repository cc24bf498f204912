# An empty module: tools/sim/device/_imports.py fills a fresh copy of it for each builtin
# module it shadows (MicroPython cannot create module objects otherwise).
