# MD5 (RFC 1321) in plain Python, for firmware built without hashlib.md5 (it comes with the
# TLS library on some builds). Digest auth hashes a few short strings per connection, so speed
# does not matter here. md5(data) -> 16-byte digest.
import struct

_S = (7, 12, 17, 22) * 4 + (5, 9, 14, 20) * 4 + (4, 11, 16, 23) * 4 + (6, 10, 15, 21) * 4
_K = (
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391)
_M = 0xFFFFFFFF


def md5(data):
    n = len(data)
    msg = bytes(data) + b"\x80" + bytes((55 - n) % 64) + struct.pack("<Q", (n * 8) & 0xFFFFFFFFFFFFFFFF)
    h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
    for off in range(0, len(msg), 64):
        w = struct.unpack("<16I", msg[off:off + 64])
        a, b, c, d = h
        for i in range(64):
            if i < 16:
                f = (b & c) | (~b & d)
                g = i
            elif i < 32:
                f = (d & b) | (~d & c)
                g = (5 * i + 1) % 16
            elif i < 48:
                f = b ^ c ^ d
                g = (3 * i + 5) % 16
            else:
                f = c ^ (b | (~d & _M))
                g = (7 * i) % 16
            x = (a + (f & _M) + _K[i] + w[g]) & _M
            s = _S[i]
            a, d, c = d, c, b
            b = (b + (((x << s) | (x >> (32 - s))) & _M)) & _M
        h = [(h[0] + a) & _M, (h[1] + b) & _M, (h[2] + c) & _M, (h[3] + d) & _M]
    return struct.pack("<4I", *h)
