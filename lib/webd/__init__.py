# webd: the camera's HTTP server (page, snapshot, MJPEG, stills, status), run by rtspd's loop.
# (Not called `http` or `microdot`: frozen firmware modules of such names would win.)
from webd.server import WebServer

__all__ = ("WebServer",)
