# The emulator's model of the camera's lwIP (tools/sim/device/_lwip.py), one test per limit,
# each written so that a writer that ignores the limit fails it. The viewer is a plain unix
# socket in this process; the camera's sockets are the emulated ones with the model on.
import errno
import select
import socket
import usocket as _u
import utime
import _lwip

_Base = socket.socket
RATE = 600000
SO_RCVBUF = 8           # Linux


def _setup(spec="rate=%d,rtt=2" % RATE):
    _lwip.setup(spec)
    return _lwip.model(_Base, socket._tuple)


def _listen(S, n=4):
    s = S()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    for port in range(28600, 28700):
        try:
            s.bind(("127.0.0.1", port))
            s.listen(n)
            return s, port
        except OSError:
            pass
    raise OSError("no free port")


def _viewer(port, rcvbuf=0):
    c = _u.socket()
    if rcvbuf:
        c.setsockopt(_u.SOL_SOCKET, SO_RCVBUF, rcvbuf)   # a viewer that falls behind
    c.connect(_u.getaddrinfo("127.0.0.1", port)[0][-1])
    return c


def _accept(srv, ms=1000):
    t0 = utime.ticks_ms()
    while utime.ticks_diff(utime.ticks_ms(), t0) < ms:
        try:
            return srv.accept()[0]
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
        utime.sleep_ms(1)
    return None


def _drain(c, buf):
    got = 0
    try:
        while True:
            n = c.readinto(buf)
            if not n:
                break
            got += n
    except OSError:
        pass
    return got


def _close(*socks):
    for s in socks:
        if s is None:
            continue
        try:
            s.close()
        except OSError:
            pass


def _ms_since(t0):
    return utime.ticks_diff(utime.ticks_ms(), t0)


# ---- PCB pools ------------------------------------------------------------------------
def test_sixth_tcp_socket_fails_with_enomem():
    S = _setup()
    socks = [S() for _ in range(5)]
    try:
        try:
            S()
            raise AssertionError("a sixth TCP socket was made: lwIP has 5 PCBs")
        except OSError as e:
            assert e.errno == errno.ENOMEM, e
        socks.pop().close()
        socks.append(S())               # a closed socket gives its PCB back
    finally:
        _close(*socks)


def test_listening_frees_its_pcb_and_a_sixth_viewer_waits():
    S = _setup()
    srv, port = _listen(S)
    srv.setblocking(False)
    viewers, conns = [], []
    try:
        for _ in range(5):
            viewers.append(_viewer(port))
            c = _accept(srv)
            assert c is not None, "viewer %d not accepted" % (len(conns) + 1)
            conns.append(c)
        viewers.append(_viewer(port))   # no PCB for it: lwIP drops its SYN, it waits
        assert _accept(srv, 100) is None, "a sixth connection got a PCB"
        conns.pop(0).close()
        c = _accept(srv)
        assert c is not None, "the waiting viewer was not taken once a PCB was free"
        conns.append(c)
    finally:
        _close(*conns)
        _close(*viewers)
        _close(srv)


def test_three_udp_sockets_for_the_app():
    S = _setup()
    socks = []
    try:
        for _ in range(3):              # 5 UDP PCBs, DHCP and mDNS hold 2
            socks.append(S(socket.AF_INET, socket.SOCK_DGRAM))
        try:
            S(socket.AF_INET, socket.SOCK_DGRAM)
            raise AssertionError("a fourth UDP socket: a second RTP/RTCP viewer would fit")
        except OSError as e:
            assert e.errno == errno.ENOMEM, e
    finally:
        _close(*socks)


# ---- the accept queue -------------------------------------------------------------------
def _queue_test(backlog, waiting):
    S = _setup()
    srv, port = _listen(S, backlog)
    viewers = []
    first = None
    try:
        for _ in range(waiting + 1):
            viewers.append(_viewer(port))
        utime.sleep_ms(5)
        srv.setblocking(False)
        first = _accept(srv)            # the model takes what the PC queued
        utime.sleep_ms(5)
        reset = 0
        for v in viewers:
            v.setblocking(False)
            try:
                v.recv(1)
            except OSError as e:
                if e.errno == errno.ECONNRESET:
                    reset += 1
        return reset
    finally:
        _close(first)
        _close(*viewers)
        _close(srv)


def test_accept_queue_of_one_resets_the_second_viewer():
    # modlwip: listen(n <= 1) keeps one connection waiting for accept(); the next is aborted
    assert _queue_test(1, 1) == 1


def test_accept_queue_holds_as_many_as_listen_says():
    assert _queue_test(4, 4) == 1      # the app's listen(4): a fifth waiting viewer is reset


# ---- send buffer and link rate ----------------------------------------------------------
def _pair(S, rcvbuf=0):
    srv, port = _listen(S)
    v = _viewer(port, rcvbuf)
    c = srv.accept()[0]
    srv.close()
    return c, v


def test_nonblocking_write_takes_at_most_the_send_buffer():
    S = _setup()
    c, v = _pair(S)
    try:
        c.setblocking(False)
        frame = bytearray(150000)
        t0 = utime.ticks_ms()
        n = c.write(frame)
        assert n == _lwip.TCP_SND_BUF, n
        assert c.write(frame, n, len(frame) - n) is None    # full: "would block"
        assert _ms_since(t0) < 20
    finally:
        _close(c, v)


def test_blocking_write_of_a_frame_takes_the_link_time():
    # a 150 KB JPEG at 600 kB/s: a blocking write() holds the loop for 1/4 s
    S = _setup()
    c, v = _pair(S)
    try:
        frame = bytearray(150000)
        t0 = utime.ticks_ms()
        assert c.write(frame) == len(frame)
        took = _ms_since(t0)
        least = (len(frame) - _lwip.TCP_SND_BUF) * 1000 // RATE
        assert took >= least, "%d ms, the link needs %d" % (took, least)
    finally:
        _close(c, v)


def test_pollout_writer_keeps_the_loop_free_and_the_viewer_sees_the_link_rate():
    S = _setup()
    c, v = _pair(S)
    try:
        c.setblocking(False)
        v.setblocking(False)
        p = select.poll()
        p.register(c, select.POLLOUT)
        frame = bytearray(150000)
        buf = bytearray(16384)
        sent = got = longest = 0
        t0 = utime.ticks_ms()
        while got < len(frame) and _ms_since(t0) < 3000:
            for _o, _ev in p.ipoll(50):
                if sent < len(frame):
                    t1 = utime.ticks_ms()
                    n = c.write(frame, sent, len(frame) - sent)
                    longest = max(longest, _ms_since(t1))
                    sent += n or 0
            got += _drain(v, buf)
            # the viewer never gets more than the link carried
            assert got <= _lwip.TCP_SND_BUF + RATE * (_ms_since(t0) + 5) // 1000, got
        took = _ms_since(t0)
        assert got == len(frame)
        assert longest <= 5, "a write held the loop %d ms" % longest
        assert took >= (len(frame) - _lwip.TCP_SND_BUF) * 1000 // RATE, took
    finally:
        _close(c, v)


def test_round_trip_time_limits_a_connection_to_a_window_per_rtt():
    S = _setup("rate=%d,rtt=50" % RATE)
    c, v = _pair(S)
    try:
        data = bytearray(64000)
        buf = bytearray(16384)
        v.setblocking(False)
        c.setblocking(False)
        sent = got = 0
        t0 = utime.ticks_ms()
        while got < len(data) and _ms_since(t0) < 5000:
            if sent < len(data):
                sent += c.write(data, sent, len(data) - sent) or 0
            else:
                _lwip.service()         # what an app's poll() does between writes
            got += _drain(v, buf)
            utime.sleep_ms(1)
        took = _ms_since(t0)
        # 6400 bytes a round trip: 64000 bytes need 9 more round trips of 50 ms
        assert got == len(data) and took >= 9 * 50, took
    finally:
        _close(c, v)


def test_closed_connection_still_delivers_what_was_queued():
    S = _setup()
    c, v = _pair(S)
    try:
        c.setblocking(False)
        n = c.write(bytearray(b"x" * 6000))
        c.close()
        assert _lwip.status()["tcp_pcbs"] == 1        # lwIP keeps it until all is sent
        buf = bytearray(8192)
        got = 0
        t0 = utime.ticks_ms()
        v.setblocking(False)
        while got < n and _ms_since(t0) < 1000:
            _lwip.service()
            got += _drain(v, buf)
            utime.sleep_ms(1)
        assert got == n
        utime.sleep_ms(10)
        _lwip.service()
        assert _lwip.status()["tcp_pcbs"] == 0
    finally:
        _close(v)


def test_close_with_unread_input_resets_at_once():
    # lwIP's tcp_close sends a reset, frees the PCB and drops what was queued when the
    # viewer sent something the app never read
    S = _setup()
    c, v = _pair(S, rcvbuf=1)
    try:
        v.send(b"GET_PARAMETER * RTSP/1.0\r\n\r\n")
        utime.sleep_ms(5)
        c.setblocking(False)
        c.write(bytearray(6400))
        c.close()
        st = _lwip.status()
        assert st["tcp_pcbs"] == 0 and st["mem"] == 0, st
        utime.sleep_ms(5)
        try:
            while v.recv(4096):
                pass
            raise AssertionError("the viewer saw a clean close")
        except OSError as e:
            assert e.errno == errno.ECONNRESET, e
    finally:
        _close(v)


# ---- packet memory ------------------------------------------------------------------------
def _stuck(S):
    """A connection whose viewer stopped reading: lwIP keeps its 6400 bytes, 8 full segments
    taking 7040 of the 8000 bytes of packet memory, until the viewer reads or it dies."""
    c, v = _pair(S, rcvbuf=1)
    seg = bytearray(_lwip.TCP_MSS)
    t0 = utime.ticks_ms()
    while _ms_since(t0) < 2000:
        _lwip.service()
        if c._c.sndbuf() >= len(seg):
            c.send(seg)                 # whole segments: the memory they hold is exact
        elif c._c.sndbuf() == 0:
            utime.sleep_ms(20)
            _lwip.service()
            if c._c.sndbuf() == 0:
                assert _lwip.status()["mem"] == 8 * 880, _lwip.status()
                return c, v
        utime.sleep_ms(1)
    raise AssertionError("the stuck viewer never filled its window")


def test_udp_send_without_packet_memory_raises_enomem():
    S = _setup()
    c, v = _stuck(S)
    u = S(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.connect(("127.0.0.1", 28797))
        try:
            u.write(bytearray(1400))          # an RTP packet: 1480 bytes of pbuf
            raise AssertionError("UDP send went through with %d bytes held" % _lwip.status()["mem"])
        except OSError as e:
            assert e.errno == errno.ENOMEM, e
        assert u.write(bytearray(800)) == 800  # 880 bytes: fits in the 960 left
    finally:
        _close(u, c, v)


def test_tcp_write_without_packet_memory_blocks_in_50_ms_retries():
    S = _setup()
    a, va = _stuck(S)
    b, vb = _pair(S)
    try:
        b.setblocking(False)        # non-blocking does not help: modlwip retries anyway
        t0 = utime.ticks_ms()
        try:
            b.write(bytearray(6400))
            raise AssertionError("the write found memory that the stuck viewer holds")
        except OSError as e:
            assert e.errno == errno.ENOMEM, e
        took = _ms_since(t0)
        # 200 tries 50 ms apart: the whole loop stood still for 10 s
        assert 9900 <= took <= 11500, took
    finally:
        _close(a, va, b, vb)


# ---- UDP on the link ------------------------------------------------------------------
def test_udp_sender_waits_for_the_radio():
    S = _setup()
    u = S(socket.AF_INET, socket.SOCK_DGRAM)
    r = _u.socket(_u.AF_INET, _u.SOCK_DGRAM)
    try:
        r.bind(_u.getaddrinfo("127.0.0.1", 28798)[0][-1])
        u.connect(("127.0.0.1", 28798))
        u.setblocking(False)
        t0 = utime.ticks_ms()
        for _ in range(100):                # 140 KB of RTP in one burst
            u.write(bytearray(1400))
        took = _ms_since(t0)
        least = (100 - _lwip.LINK_QUEUE) * 1400 * 1000 // RATE
        assert took >= least, "%d ms: the radio takes %d" % (took, least)
    finally:
        _close(u, r)


def test_tcp_answer_gets_through_a_udp_stream():
    # one radio for both: an RTSP answer queues behind the RTP packets, it is not starved
    S = _setup()
    c, v = _pair(S)
    u = S(socket.AF_INET, socket.SOCK_DGRAM)
    r = _u.socket(_u.AF_INET, _u.SOCK_DGRAM)
    try:
        r.bind(_u.getaddrinfo("127.0.0.1", 28796)[0][-1])
        u.connect(("127.0.0.1", 28796))
        v.setblocking(False)
        pkt = bytearray(1400)
        for _ in range(20):
            u.write(pkt)                  # the radio's queue is full from here on
        c.write(b"RTSP/1.0 200 OK\r\n\r\n")
        t0 = utime.ticks_ms()
        got = b""
        while not got and _ms_since(t0) < 300:
            u.write(pkt)
            try:
                got = v.recv(64)
            except OSError:
                pass
        assert got.startswith(b"RTSP/1.0 200"), "no answer while UDP kept the radio busy"
        assert _ms_since(t0) < 100, _ms_since(t0)
    finally:
        _close(u, r, c, v)


def test_lost_frames_never_reach_the_viewer():
    S = _setup("rate=%d,rtt=2,loss=1" % RATE)
    u = S(socket.AF_INET, socket.SOCK_DGRAM)
    r = _u.socket(_u.AF_INET, _u.SOCK_DGRAM)
    try:
        r.bind(_u.getaddrinfo("127.0.0.1", 28799)[0][-1])
        r.setblocking(False)
        u.sendto(b"ping", ("127.0.0.1", 28799))
        utime.sleep_ms(20)
        try:
            r.recv(16)
            raise AssertionError("a lost datagram arrived")
        except OSError as e:
            assert e.errno == errno.EAGAIN
        _lwip.setup("rate=%d,rtt=2,loss=0" % RATE)
        u.sendto(b"ping", ("127.0.0.1", 28799))
        utime.sleep_ms(20)
        assert r.recv(16) == b"ping"
    finally:
        _close(u, r)


# ---- DNS --------------------------------------------------------------------------------
def test_dns_without_answer_blocks_the_caller_7_s():
    _setup("rate=%d,rtt=2,dns=none" % RATE)
    t0 = utime.ticks_ms()
    assert socket.getaddrinfo("10.0.0.1", 123)[0][-1] == ("10.0.0.1", 123)
    assert _ms_since(t0) < 50                   # an address needs no lookup
    t0 = utime.ticks_ms()
    try:
        socket.getaddrinfo("pool.ntp.org", 123)
        raise AssertionError("resolved without DNS")
    except OSError as e:
        assert e.errno == -2, e
    took = _ms_since(t0)
    assert 6900 <= took <= 7600, took           # 4 queries, 1 + 1 + 2 + 3 s apart
    _lwip.setup("off")
