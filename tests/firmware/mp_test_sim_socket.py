# The emulated socket module behaves like the camera's lwIP sockets, not the unix port's.
import errno
import select
import socket


def _listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    for port in range(28100, 28200):
        try:
            s.bind(("127.0.0.1", port))
            s.listen(2)
            return s, port
        except OSError:
            pass
    raise OSError("no free port")


def test_addresses_are_tuples():
    srv, port = _listener()
    c = socket.socket()
    c.connect(("127.0.0.1", port))
    conn, addr = srv.accept()
    assert isinstance(addr, tuple) and addr[0] == "127.0.0.1" and isinstance(addr[1], int)
    for s in (c, conn, srv):
        s.close()


def test_udp_recvfrom_gives_tuple():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 28333))
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.sendto(b"ping", ("127.0.0.1", 28333))
    data, addr = a.recvfrom(16)
    assert data == b"ping" and addr[0] == "127.0.0.1"
    a.close()
    b.close()


def test_timeout_raises_etimedout_like_lwip():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 28334))
    a.settimeout(0.05)
    try:
        a.recv(10)
        raise AssertionError("no timeout")
    except OSError as e:
        assert e.errno == errno.ETIMEDOUT, e.errno
    a.close()


def test_nonblocking_keeps_eagain():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 28335))
    a.setblocking(False)
    try:
        a.recv(10)
        raise AssertionError("no error")
    except OSError as e:
        assert e.errno == errno.EAGAIN
    a.close()


def test_nonblocking_udp_readinto_gives_none_then_the_datagram():
    # modlwip lwip_socket_read -> lwip_raw_udp_receive: EAGAIN at once without a datagram,
    # which py/stream.c stream_readinto turns into None (lib/timesync.py waits on this)
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 28336))
    a.setblocking(False)
    buf = bytearray(48)
    assert a.readinto(buf) is None
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.sendto(bytes(range(48)), ("127.0.0.1", 28336))
    n = None
    for _ in range(1000):
        n = a.readinto(buf)
        if n is not None:
            break
    assert n == 48 and buf == bytes(range(48))
    a.close()
    b.close()


def test_poll_returns_our_socket_object():
    srv, port = _listener()
    c = socket.socket()
    c.connect(("127.0.0.1", port))
    p = select.poll()
    p.register(srv, select.POLLIN)
    ready = p.poll(500)
    assert ready and ready[0][0] is srv
    c.close()
    srv.close()


def test_getaddrinfo_gives_tuple():
    ai = socket.getaddrinfo("127.0.0.1", 554)[0]
    assert ai[-1] == ("127.0.0.1", 554)
