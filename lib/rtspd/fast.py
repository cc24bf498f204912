# The byte-moving primitives: machine code (viper) where the port can compile it, else Python.
try:
    from rtspd._viper import copy, equal, layout, head_end, first_nl
    NATIVE = True
except Exception:   # SyntaxError/ValueError/OSError: no native emitter on this port
    from rtspd._pyfast import copy, equal, layout, head_end, first_nl
    NATIVE = False
