# What rtspd's server and a guest server in its loop (lib/webd) share: a non-blocking
# listening socket, quiet closes, and the app's event hook and log lines.
import socket


def listen(ip, port, backlog):
    """A non-blocking TCP socket listening on ip:port (backlog: lwIP's accept queue holds
    that many). OSError, with nothing left open, when it cannot bind."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        s.listen(backlog)
        s.setblocking(False)
    except OSError:
        s.close()
        raise
    return s


def close(sock):
    """Close a socket that may already be broken."""
    try:
        sock.close()
    except OSError:
        pass


class Service:
    """on_event(name, arg) for the app, called by _emit() (a failing hook is logged, never
    raised into the server); _note() logs with the server's tag. Set by the server: _log,
    TAG; by the app: on_event."""
    TAG = ""
    on_event = None
    _log = None

    def _emit(self, name, arg):
        fn = self.on_event
        if fn is None:
            return
        try:
            fn(name, arg)
        except Exception as e:
            self._note("on_event(%s) failed: %r" % (name, e), True)

    def _note(self, msg, warn=False):
        log = self._log
        if log is not None:
            (log.warning if warn else log.info)(self.TAG + msg)
