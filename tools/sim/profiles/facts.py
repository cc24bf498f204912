# Behaviour facts of one firmware, read from its sources (used by extract.py only).


def collect(ix, fw, mplib, prof):
    return {}
