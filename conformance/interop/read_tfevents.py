#!/usr/bin/env python3
"""Reads a TensorBoard event file (events.out.tfevents.*) without TensorFlow or TensorBoard.

Checks the TFRecord framing of every record (uint64 LE length, masked CRC-32C of the length,
data, masked CRC-32C of the data) and decodes the Event protobuf by hand
(tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto):

    Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
    Summary { repeated Value value = 1; }
    Value   { string tag = 1; float simple_value = 2; }

Prints one line per record:  "file_version brain.Event:2"  for a version record and
"STEP TAG VALUE" for each scalar (VALUE: Python repr of the float32, e.g. 3.2100000381469727,
nan, inf). With --wall-time each line ends with " @WALL_TIME". Exits 1, naming the record and
the fault, on a bad CRC, a truncated record or malformed protobuf.
"""
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


class Malformed(Exception):
    pass


def varint(buf, i):
    shift = 0
    v = 0
    while True:
        if i >= len(buf):
            raise Malformed("truncated varint")
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7
        if shift > 63:
            raise Malformed("varint longer than 10 bytes")


def fields(buf):
    """Yields (field number, wire type, value) of a protobuf message; value is an int for
    varints, bytes for fixed64/fixed32/length-delimited."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise Malformed("field number 0")
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            if i + 8 > len(buf):
                raise Malformed("truncated fixed64 (field %d)" % num)
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            if i + n > len(buf):
                raise Malformed("truncated length-delimited field %d" % num)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            if i + 4 > len(buf):
                raise Malformed("truncated fixed32 (field %d)" % num)
            v, i = buf[i:i + 4], i + 4
        else:
            raise Malformed("unsupported wire type %d (field %d)" % (wt, num))
        yield num, wt, v


def expect(wt, want, what):
    if wt != want:
        raise Malformed("%s has wire type %d, expected %d" % (what, wt, want))


def decode_event(data):
    ev = {"wall_time": None, "step": 0, "file_version": None, "values": []}
    for num, wt, v in fields(data):
        if num == 1:
            expect(wt, 1, "Event.wall_time")
            ev["wall_time"] = struct.unpack("<d", v)[0]
        elif num == 2:
            expect(wt, 0, "Event.step")
            ev["step"] = v - (1 << 64) if v >= 1 << 63 else v
        elif num == 3:
            expect(wt, 2, "Event.file_version")
            ev["file_version"] = v.decode("utf-8")
        elif num == 5:
            expect(wt, 2, "Event.summary")
            for snum, swt, sv in fields(v):
                if snum != 1:
                    continue
                expect(swt, 2, "Summary.value")
                tag, val = None, None
                for vnum, vwt, vv in fields(sv):
                    if vnum == 1:
                        expect(vwt, 2, "Value.tag")
                        tag = vv.decode("utf-8")
                    elif vnum == 2:
                        expect(vwt, 5, "Value.simple_value")
                        val = struct.unpack("<f", vv)[0]
                if tag is None:
                    raise Malformed("Summary.Value without a tag")
                ev["values"].append((tag, val))
    return ev


def read_records(raw):
    """Yields (record index, data) of each TFRecord, checking both CRCs."""
    i = 0
    k = 0
    while i < len(raw):
        if i + 12 > len(raw):
            raise Malformed("record %d: truncated header (%d bytes left)" % (k, len(raw) - i))
        hdr = raw[i:i + 8]
        (n,) = struct.unpack("<Q", hdr)
        (hcrc,) = struct.unpack("<I", raw[i + 8:i + 12])
        if hcrc != masked(hdr):
            raise Malformed("record %d: length CRC 0x%08x, expected 0x%08x" % (k, hcrc, masked(hdr)))
        if i + 12 + n + 4 > len(raw):
            raise Malformed("record %d: truncated data (length %d)" % (k, n))
        data = raw[i + 12:i + 12 + n]
        (dcrc,) = struct.unpack("<I", raw[i + 12 + n:i + 16 + n])
        if dcrc != masked(data):
            raise Malformed("record %d: data CRC 0x%08x, expected 0x%08x" % (k, dcrc, masked(data)))
        yield k, data
        i += 16 + n
        k += 1


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    show_time = "--wall-time" in argv[1:]
    if len(args) != 1:
        sys.stderr.write("usage: read_tfevents.py [--wall-time] EVENTS_FILE\n")
        return 2
    path = args[0]
    try:
        raw = open(path, "rb").read()
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (path, e.strerror))
        return 1
    out = []
    try:
        for k, data in read_records(raw):
            try:
                ev = decode_event(data)
            except (Malformed, UnicodeDecodeError) as e:
                raise Malformed("record %d: %s" % (k, e))
            suffix = " @%r" % ev["wall_time"] if show_time else ""
            if ev["file_version"] is not None:
                out.append("file_version %s%s" % (ev["file_version"], suffix))
            for tag, val in ev["values"]:
                out.append("%d %s %r%s" % (ev["step"], tag, val, suffix))
    except Malformed as e:
        sys.stdout.write("".join(line + "\n" for line in out))
        sys.stderr.write("%s: %s\n" % (path, e))
        return 1
    sys.stdout.write("".join(line + "\n" for line in out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
