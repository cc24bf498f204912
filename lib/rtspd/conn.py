# One RTSP connection (TCP): a byte-stream parser for requests and '$'-framed RTCP, the queue
# of responses, and, for a TCP-interleaved viewer, the sending of its frames. Buffers are
# allocated once per pool entry and reused, so connections coming and going leave the heap flat.
import time
from rtspd.request import BadRequest, parse_head, content_length, MAX_LINE
from rtspd.stream import STRIDE
from rtspd import fast
from rtspd.session import PLAYING
from rtspd.budget import Writer

RX_CAP = 4096           # request head + body, or one interleaved packet
OUT_CAP = 4096          # queued responses and RTCP reports
OUT_RESERVE = 1536      # room needed before the next request is handled (largest response)


class Conn:
    def __init__(self, alloc=bytearray):
        # alloc(n): n bytes from the app (RtspServer's alloc=: frame-buffer memory in lean mode)
        self.rx = alloc(RX_CAP)
        self.out = alloc(OUT_CAP)
        self.pend = alloc(STRIDE)       # rest of a packet cut short (see Stream.release)
        self.w = Writer()               # its share of the link (rtspd.budget)
        self.reset()

    def reset(self):
        self.sock = None
        self.ip = ""
        self.rxn = 0
        self.skip = 0           # bytes of an oversized '$' packet still to discard
        self.out_off = 0
        self.out_len = 0
        self.pend_off = 0
        self.pend_len = 0
        self.session = None
        self.nonce = None
        self.nonce_t = 0
        self.authed = False
        self.fails = 0
        self.closing = False    # close once the queued output is out...
        self.linger_t = -1      # ...and the peer had a moment to read it (ticks, -1: not yet)
        self.req_t = 0          # ticks of the last complete request
        self.prog_t = 0         # ticks of the last write progress (or of having nothing to send)
        self.mask = 0           # poll flags registered
        self.starved = False    # frame data waits for the link budget, not for the socket
        self.full = False       # the socket took less than offered at the last try

    def open(self, sock, ip):
        self.reset()
        self.sock = sock
        self.ip = ip
        self.req_t = self.prog_t = time.ticks_ms()

    # -- output ---------------------------------------------------------------------------
    def queue(self, data, n=-1):
        """Append data[:n] to the output; False if it does not fit (peer not reading)."""
        if n < 0:
            n = len(data)
        if self.out_len == 0:
            self.out_off = 0
        elif self.out_off + self.out_len + n > OUT_CAP:
            self.out[0:self.out_len] = self.out[self.out_off:self.out_off + self.out_len]
            self.out_off = 0
        a = self.out_off + self.out_len
        if a + n > OUT_CAP:
            return False
        self.out[a:a + n] = memoryview(data)[0:n]
        self.out_len += n
        return True

    def has_output(self):
        s = self.session
        return self.out_len or self.pend_len or (s is not None and s.tcp and
                                                 (s.cur >= 0 or s.wait_out))

    def send(self, stream, budget, writable=False):
        """Write what the socket takes: the rest of a cut packet, then responses (only at a
        packet boundary), then frame data as far as the link budget allows (rtspd.budget:
        never more than lwIP's packet memory holds, so no write blocks in its retries).
        OSError for a broken connection. `writable`: the poller said the socket has room (a
        viewer cut for lagging may then take frames again). budget: the link's (rtspd.budget;
        one with no link rate paces nothing)."""
        sock = self.sock
        self.starved = False
        if budget.held():
            return              # lwIP's memory is still held by viewers that were ended
        while not budget.jam:     # a jam: the server acts first
            if self.pend_len:
                n = budget.write(sock, self.pend, self.pend_off, self.pend_len, self.w)
                if not n:
                    self.full = True
                    return
                self.full = False
                self.pend_off += n
                self.pend_len -= n
                self.prog_t = time.ticks_ms()
                writable = True
                continue
            s = self.session
            busy = s is not None and s.tcp and s.cur >= 0
            if self.out_len and (not busy or s.pos % STRIDE == 0):
                n = budget.write(sock, self.out, self.out_off, self.out_len)
                if not n:
                    return
                self.out_off += n
                self.out_len -= n
                self.prog_t = time.ticks_ms()
                continue
            if not busy:
                if s is not None and s.wait_out and writable:
                    s.wait_out = False
                    if s.state == PLAYING:
                        stream.catch_up(s)
                        continue
                self.prog_t = time.ticks_ms()
                return
            lim = s.end
            if self.out_len:
                b = (s.pos // STRIDE + 1) * STRIDE
                if b < lim:
                    lim = b
            k = budget.take(self.w, lim - s.pos)
            if not k:
                self.starved = True
                return
            sl = stream.slots[s.cur]
            n = budget.write(sock, sl.buf, sl.base + s.pos, k, self.w)
            if not n:
                self.full = True
                return
            self.full = n < k       # it took less: no POLLOUT may come for a while
            s.pos += n
            self.prog_t = time.ticks_ms()
            if s.pos >= s.end:
                stream.finish(s)

    def stuck(self, now, ms):
        """Nothing written for `ms` while frame data waits (the caller knows it does): the
        viewer is not reading (over WiFi the normal case), or the socket said nothing since
        it took part of a write. Its frame must not hold the others back."""
        return time.ticks_diff(now, self.prog_t) > ms

    # -- input ----------------------------------------------------------------------------
    def read(self):
        """Read what is there; False on end of stream."""
        if self.closing:
            self.rxn = 0        # answered (400/413...): what else comes is read and dropped,
                                # since closing with unread input resets the connection
        if self.rxn >= RX_CAP:
            return True
        n = self.sock.readinto(memoryview(self.rx)[self.rxn:])
        if n is None:
            return True
        if n == 0:
            return False
        self.rxn += n
        if self.closing:
            self.rxn = 0        # discard: closing with unread input would send a reset
        return True

    def consume(self, k):
        rest = self.rxn - k
        if rest > 0:
            self.rx[0:rest] = self.rx[k:self.rxn]
        self.rxn = rest if rest > 0 else 0

    def process(self, srv):
        """Handle every complete message in the input (pipelined requests, '$' packets)."""
        rx = self.rx
        while self.rxn and self.sock is not None and not self.closing:
            if self.skip:
                k = self.skip if self.skip < self.rxn else self.rxn
                self.consume(k)
                self.skip -= k
                continue
            c = rx[0]
            if c == 0x24:                       # '$' channel length: RTCP from the viewer
                if self.rxn < 4:
                    return
                ln = (rx[2] << 8) | rx[3]
                if 4 + ln <= RX_CAP:
                    if self.rxn < 4 + ln:
                        return
                    srv._interleaved(self, rx[1], ln)
                    self.consume(4 + ln)
                else:                           # too big to hold: count it, discard it
                    srv._interleaved(self, rx[1], 0)
                    self.skip = 4 + ln
                continue
            if c == 13 or c == 10:              # blank lines between messages
                self.consume(1)
                continue
            if OUT_CAP - self.out_len < OUT_RESERVE:
                return                          # answer later, when the peer has read
            if not self._request(srv):
                return

    def _request(self, srv):
        rx = self.rx
        hlen = fast.head_end(rx, self.rxn)
        if hlen < 0:
            nl = fast.first_nl(rx, self.rxn if self.rxn <= MAX_LINE else MAX_LINE + 1)
            if self.rxn >= RX_CAP or (nl < 0 and self.rxn > MAX_LINE):
                srv._bad(self, BadRequest(400, close=True))   # line or head too long
            return False
        try:
            req = parse_head(bytes(memoryview(rx)[0:hlen]))
            cl = content_length(req)
        except BadRequest as e:
            self.consume(hlen)
            srv._bad(self, e)
            return True
        if hlen + cl > RX_CAP:
            srv._bad(self, BadRequest(413, req.cseq, close=True))
            return False
        if self.rxn < hlen + cl:
            return False
        if cl:
            req.body = bytes(memoryview(rx)[hlen:hlen + cl])
        self.consume(hlen + cl)
        self.req_t = time.ticks_ms()
        srv._request(self, req)
        return True
