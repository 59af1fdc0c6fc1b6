#!/usr/bin/env python3
"""pngwrite.py: a small PNG writer with zlib and struct only, for bench/corpus/make-corpus.sh.

Reads raw 8-bit pixels (rows of WIDTH * CHANNELS bytes, as `vips rawsave` writes them) and writes
a PNG the way an encoder nobody tuned for might:

  pngwrite.py RAW WIDTH HEIGHT CHANNELS OUT.png MODE [LEVEL]
  pngwrite.py --rows FILE.png    prints how many rows carry each filter ("f0=.. f1=.. f2=.. f3=.. f4=.."),
                                 or "interlaced", or "-" for a file that is not a PNG

MODE: adaptive  per row the filter with the least sum of |signed bytes| (libpng's heuristic)
      paeth     Paeth on every row
      trns      RGB with a tRNS chunk (the colour of the top-left pixel is transparent),
                adaptive filters
LEVEL: zlib level, default 6. Pure Python: about 10 s per megapixel for adaptive; the script
feeds it images scaled down to --py-side pixels.
"""
import struct
import sys
import zlib


def paeth_row(cur, prev, bpp):
    out = bytearray(len(cur))
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (cur[i] - pred) & 0xFF
    return out


def filter_rows(cur, prev, bpp):
    n = len(cur)
    sub = bytearray((cur[i] - (cur[i - bpp] if i >= bpp else 0)) & 0xFF for i in range(n))
    up = bytearray((cur[i] - prev[i]) & 0xFF for i in range(n))
    avg = bytearray((cur[i] - (((cur[i - bpp] if i >= bpp else 0) + prev[i]) >> 1)) & 0xFF for i in range(n))
    return [bytes(cur), bytes(sub), bytes(up), bytes(avg), bytes(paeth_row(cur, prev, bpp))]


def cost(row):
    return sum(v if v < 128 else 256 - v for v in row)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def census(path):
    d = open(path, "rb").read()
    if d[:8] != b"\x89PNG\r\n\x1a\n":
        return "-"
    p, z, ih = 8, b"", None
    while p + 8 <= len(d):
        n, kind = struct.unpack(">I4s", d[p:p + 8])
        if kind == b"IHDR":
            ih = struct.unpack(">IIBBBBB", d[p + 8:p + 21])
        elif kind == b"IDAT":
            z += d[p + 8:p + 8 + n]
        p += 12 + n
    w, h, depth, ct, _, _, interlace = ih
    if interlace:
        return "interlaced"
    stride = (w * {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ct] * depth + 7) // 8
    raw = zlib.decompress(z)
    count = [0] * 5
    for y in range(h):
        if raw[y * (stride + 1)] < 5:
            count[raw[y * (stride + 1)]] += 1
    return " ".join("f%d=%d" % (i, c) for i, c in enumerate(count))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--rows":
        print(census(sys.argv[2]))
        return
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    raw_path, w, h, ch, out, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
    level = int(sys.argv[7]) if len(sys.argv) > 7 else 6
    data = open(raw_path, "rb").read()
    stride = w * ch
    if len(data) < stride * h:
        sys.exit("pngwrite.py: %s holds %d bytes, %dx%dx%d needs %d" % (raw_path, len(data), w, h, ch, stride * h))
    if mode == "trns" and ch != 3:
        sys.exit("pngwrite.py: trns needs 3 channels")
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
    prev = bytes(stride)
    filtered = bytearray()
    for y in range(h):
        cur = data[y * stride:(y + 1) * stride]
        if mode == "paeth":
            filtered += b"\x04" + paeth_row(cur, prev, ch)
        else:
            rows = filter_rows(cur, prev, ch)
            best = min(range(5), key=lambda f: cost(rows[f]))
            filtered += bytes([best]) + rows[best]
        prev = cur
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))
    if mode == "trns":
        png += chunk(b"tRNS", struct.pack(">HHH", data[0], data[1], data[2]))
    png += chunk(b"IDAT", zlib.compress(bytes(filtered), level)) + chunk(b"IEND", b"")
    open(out, "wb").write(png)


if __name__ == "__main__":
    main()
