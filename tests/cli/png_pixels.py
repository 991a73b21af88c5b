"""read_png(path) -> (width, height, channels, rows): an 8-bit grey or RGB
PNG as shardml writes it (no interlace), decoded with zlib alone (Debian's
python3 has no PIL here); rows[y] is a bytearray of width * channels."""

import struct
import zlib


def read_png(path):
    data = open(path, "rb").read()
    w, h = struct.unpack(">II", data[16:24])
    ch = 3 if data[25] == 2 else 1
    idat, pos = b"", 8
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), w * ch, [], bytearray(w * ch)
    for y in range(h):  # undo the PNG filters
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + [0, a, b, (a + b) // 2, a if pa <= pb and pa <= pc else b if pb <= pc else c][f]) & 255
        rows.append(line)
        prev = line
    return w, h, ch, rows
