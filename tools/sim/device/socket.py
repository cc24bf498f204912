# Emulated `socket`: the camera's lwIP socket module, on top of the unix port's.
#
# Differences of the unix port that the camera does not have, hidden here:
# - addresses are tuples ("1.2.3.4", port) on the camera, raw sockaddr bytes on unix;
# - a timed-out call raises OSError(ETIMEDOUT) on the camera, EAGAIN on unix;
# - when the emulated WiFi link drops, every open socket fails, as on the camera.
# The class derives from io.IOBase and answers the "get file descriptor" ioctl, so
# select.poll() accepts it and returns this object (not the inner one) from poll().
# Shaped by the firmware profile at the end of this file. With the network model on
# (SIM_LWIP), the class gets the camera's lwIP limits on top: tools/sim/device/_lwip.py.
import io as _io
import usocket as _u
import errno as _errno
import _profile
import _lwip

AF_INET = _u.AF_INET
SOCK_STREAM = _u.SOCK_STREAM
SOCK_DGRAM = _u.SOCK_DGRAM
SOL_SOCKET = _u.SOL_SOCKET
SO_REUSEADDR = _u.SO_REUSEADDR
SO_BROADCAST = _u.SO_BROADCAST
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IP = 0
TCP_NODELAY = 1

_GET_FILENO = 10      # MP_STREAM_GET_FILENO
_open = []            # sockets to fail when the link drops
_link_up = True


def _port_map():
    # The emulator may serve the camera's port 554 on another host port (SIM_PORT_MAP=554=8554)
    import os
    m = {}
    for item in (os.getenv("SIM_PORT_MAP") or "").split(","):
        if "=" in item:
            a, b = item.split("=")
            m[int(a)] = int(b)
    return m


_ports = _port_map()
# The emulator may send the camera's NTP requests (to port 123) to another host port
# (SIM_NTP_PORT: tools/sim/board.py Options.ntp_port), for the app's own NTP client as for
# the emulated ntptime.
def _env_port(name):
    import os   # a statement: a bare __import__("os") call reaches the app's (firmware's) os
    return int(os.getenv(name) or 0)


_ntp_port = _env_port("SIM_NTP_PORT")


def _sockaddr(addr):
    return _u.getaddrinfo(addr[0], addr[1])[0][-1]


def _bind_addr(addr):
    return _u.getaddrinfo(addr[0], _ports.get(addr[1], addr[1]))[0][-1]


def _tuple(raw):
    # struct sockaddr_in: family (2, host order), port (2, big-endian), IPv4 address (4)
    if isinstance(raw, tuple):
        return raw
    return ("%d.%d.%d.%d" % (raw[4], raw[5], raw[6], raw[7]), (raw[2] << 8) | raw[3])


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    _lwip.dns_wait(host, _u.getaddrinfo)    # blocks as lwIP's DNS does (model on)
    out = []
    for fam, typ, pro, canon, raw in _u.getaddrinfo(host, port, af, type, proto, flags):
        if fam == AF_INET:
            out.append((fam, typ, pro, canon, _tuple(raw)))
    return out


def _link_down():
    """Called by the emulated WLAN when the link is lost: every socket breaks."""
    global _link_up
    _link_up = False
    for s in _open[:]:
        s._broken = True
        try:
            s._s.close()
        except OSError:
            pass


def _link_restored():
    global _link_up
    _link_up = True


class socket(_io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, _inner=None):
        if not _link_up and _inner is None:
            raise OSError(_errno.ENETUNREACH if hasattr(_errno, "ENETUNREACH") else 101)
        self._s = _inner if _inner is not None else _u.socket(af, type, proto)
        self._timeout = None
        self._broken = False
        self._closed = False
        _open.append(self)

    def _check(self):
        if self._broken:
            raise OSError(_errno.ECONNRESET)

    # -- stream protocol for select.poll ------------------------------------------------
    def ioctl(self, req, arg):
        if req == _GET_FILENO:
            return self._s.fileno()
        return -1

    def fileno(self):
        return self._s.fileno()

    # -- setup ----------------------------------------------------------------------------
    def bind(self, addr):
        self._check()
        self._s.bind(_bind_addr(addr))

    def listen(self, n=1):
        self._s.listen(n)

    def connect(self, addr):
        self._check()
        try:
            self._s.connect(_sockaddr(addr))
        except OSError as e:
            raise self._translate(e)

    def accept(self):
        self._check()
        try:
            s, raw = self._s.accept()
        except OSError as e:
            raise self._translate(e)
        return socket(_inner=s), _tuple(raw)

    def setsockopt(self, level, opt, val):
        if level == 6:                  # IPPROTO_TCP (absent on some firmware)
            return  # lwIP accepts TCP_NODELAY; the unix port's wrapper cannot pass it
        self._s.setsockopt(level, opt, val)

    def settimeout(self, t):
        self._timeout = t
        self._s.settimeout(t)

    def setblocking(self, flag):
        self._timeout = None if flag else 0
        self._s.setblocking(flag)

    def close(self):
        if not self._closed:
            self._closed = True
            if self in _open:
                _open.remove(self)
            try:
                self._s.close()
            except OSError:
                pass

    def _translate(self, e):
        # lwIP reports an expired timeout as ETIMEDOUT; non-blocking sockets keep EAGAIN
        if self._broken:
            return OSError(_errno.ECONNRESET)
        if e.errno == _errno.EAGAIN and self._timeout:
            return OSError(_errno.ETIMEDOUT)
        return e

    # -- data: thin pass-throughs, no allocation of their own on the hot path --------------
    def send(self, buf):
        self._check()
        try:
            return self._s.send(buf)
        except OSError as e:
            raise self._translate(e)

    def sendall(self, buf):
        self._check()
        try:
            return self._s.sendall(buf)
        except OSError as e:
            raise self._translate(e)

    def write(self, buf, off=None, n=None):
        self._check()
        try:
            if off is None:
                return self._s.write(buf)
            if n is None:
                return self._s.write(buf, off)
            return self._s.write(buf, off, n)
        except OSError as e:
            raise self._translate(e)

    def sendto(self, buf, addr):
        self._check()
        try:
            if addr[1] == 123 and _ntp_port:
                addr = (addr[0], _ntp_port)
            return self._s.sendto(buf, _sockaddr(addr))
        except OSError as e:
            raise self._translate(e)

    def recv(self, n):
        self._check()
        try:
            return self._s.recv(n)
        except OSError as e:
            raise self._translate(e)

    def read(self, n=-1):
        self._check()
        try:
            return self._s.read(n) if n >= 0 else self._s.read()
        except OSError as e:
            raise self._translate(e)

    def readinto(self, buf, n=None):
        self._check()
        try:
            return self._s.readinto(buf) if n is None else self._s.readinto(buf, n)
        except OSError as e:
            raise self._translate(e)

    def readline(self):
        self._check()
        return self._s.readline()

    def recvfrom(self, n):
        self._check()
        try:
            data, raw = self._s.recvfrom(n)
        except OSError as e:
            raise self._translate(e)
        return data, _tuple(raw)

    def makefile(self, mode="rb", buffering=0):
        return self


_profile.gate(globals(), "socket")
_profile.forget("socket")
if _lwip.ON:
    socket = _lwip.model(socket, _tuple)
