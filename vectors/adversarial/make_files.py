#!/usr/bin/env python3
"""Writes the hostile input files of the adversarial vectors (vectors/adversarial/).

    python3 vectors/adversarial/make_files.py

Every file is a few handcrafted bytes, written here so that each one can be read and
reviewed; they are inputs (not results), so `make vectors` never rewrites them, and their
XXH3-64 hashes are recorded in vectors/files.xxh3 like every stored file. The manifest
lines that use them are the block "Adversarial inputs" at the end of vectors/manifest.tsv.
Changing a file means changing its hash in files.xxh3 (xxhsum -H3 FILE).
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def npy_header(d, version=1):
    """A .npy preamble + dictionary d (bytes), padded with spaces and '\\n' to 64 bytes."""
    pre = 10 if version == 1 else 12
    d = d + b" " * (-(len(d) + 1 + pre) % 64) + b"\n"
    ln = struct.pack("<H", len(d)) if version == 1 else struct.pack("<I", len(d))
    return b"\x93NUMPY" + bytes([version, 0]) + ln + d


def npy(descr, shape, data, fortran=False):
    shp = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False", shp)
    return npy_header(d.encode()) + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def f64(*v):
    return struct.pack("<%dd" % len(v), *v)


NAN32 = struct.pack("<I", 0x7FC00000)


def zip_stored(members, corrupt_crc=False, disk=0, method=0):
    """A minimal zip (what np.savez writes: stored members, no data descriptors)."""
    out, cd = b"", b""
    for name, data in members:
        crc = zlib.crc32(data) ^ (1 if corrupt_crc else 0)
        n = name.encode()
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), len(data), len(n), 0)
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(data), len(data),
                          len(n), 0, 0, disk, 0, 0, len(out)) + n
        out += local + n + data
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), len(out), 0)
    return out + cd + eocd


def st(header, data=b""):
    """safetensors: u64 N + header (padded with spaces to a multiple of 8) + data."""
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def main():
    good = npy("<f4", (4,), f32(1, 2, 3, 4))
    # --- .npy -------------------------------------------------------------------------
    put("npy_truncated.npy", good[:-8])                                      # 2 of 4 floats
    put("npy_trailing.npy", good + b"\0\0\0\0")                              # one float too many
    put("npy_bad_magic.npy", b"\x93NUMPX" + good[6:])
    put("npy_version9.npy", good[:6] + b"\x09\x00" + good[8:])
    put("npy_header_past_eof.npy", good[:8] + struct.pack("<H", 4000) + good[10:])
    put("npy_header_huge.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{}")
    put("npy_big_endian.npy", npy(">f4", (2,), struct.pack(">2f", 1, 2)))
    put("npy_float16.npy", npy("<f2", (2,), b"\x00\x3c\x00\x40"))
    put("npy_fortran.npy", npy("<f4", (2, 2), f32(1, 2, 3, 4), fortran=True))
    put("npy_shape_overflow.npy", npy("<f8", (2 ** 62, 8), b""))             # 2^65 bytes
    put("npy_negative_dim.npy", npy("<f4", (-1,), b""))
    put("npy_nine_dims.npy", npy("<f4", (1,) * 9, f32(1)))
    put("npy_no_shape.npy", npy_header(b"{'descr': '<f4', 'fortran_order': False, }") + f32(1))
    put("npy_duplicate_key.npy",
        npy_header(b"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }") + f32(1))
    put("npy_structured.npy", npy_header(b"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }")
        + f32(1))
    put("npy_nan.npy", npy("<f4", (2, 2), f32(1, 2) + NAN32 + f32(4)))
    put("npy_inf64.npy", npy("<f8", (3,), f64(0.5, float("inf"), 1)))
    put("npy_f64_overflows_f32.npy", npy("<f8", (2,), f64(1.0, 1e300)))     # finite, but inf as float32
    put("npy_int64.npy", npy("<i8", (2,), struct.pack("<2q", 1, -1)))
    put("npy_uint32.npy", npy("<u4", (2,), struct.pack("<2I", 1, 2)))
    put("npy_valid.npy", good)
    put("npy_empty_file.npy", b"")
    # --- .npz -------------------------------------------------------------------------
    member = npy("<f4", (2,), f32(1, 2))
    z = zip_stored([("x.npy", member)])
    put("npz_truncated.npz", z[:-10])
    put("npz_crc.npz", zip_stored([("x.npy", member)], corrupt_crc=True))
    put("npz_multidisk.npz", zip_stored([("x.npy", member)], disk=1))
    put("npz_deflated.npz", zip_stored([("x.npy", member)], method=8))
    put("npz_valid.npz", z)
    put("npz_nan_member.npz", zip_stored([("x.npy", npy("<f4", (2,), f32(1) + NAN32))]))
    put("npz_bad_member.npz", zip_stored([("x.npy", member[:-2])]))
    # --- safetensors ------------------------------------------------------------------
    a23 = b'{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}'
    put("st_short.safetensors", b"\x08\x00\x00")
    put("st_header_past_eof.safetensors", struct.pack("<Q", 1 << 40) + b"{}")
    put("st_bad_json.safetensors", st(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}', f32(1)))
    put("st_overlap.safetensors", st(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                     b'"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32(1, 2, 3)))
    put("st_gap.safetensors", st(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(0, 1)))
    put("st_duplicate_name.safetensors", st(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                            b'"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2)))
    put("st_unknown_dtype.safetensors", st(b'{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}', f32(1)))
    put("st_nine_dims.safetensors", st(b'{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}',
                                       f32(1)))
    put("st_size_mismatch.safetensors", st(b'{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}',
                                           f32(1, 2, 3, 4, 5)))
    put("st_offset_overflow.safetensors",
        st(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,0]}}', f32(1)))
    put("st_past_end.safetensors",
        st(b'{"a":{"dtype":"U8","shape":[4611686018427387904],"data_offsets":[0,4611686018427387904]}}', f32(1)))
    put("st_shape_overflow.safetensors",
        st(b'{"a":{"dtype":"F64","shape":[4611686018427387904,8],"data_offsets":[0,8]}}', f64(1)))
    put("st_f64.safetensors", st(b'{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', f64(1)))
    put("st_nan.safetensors", st(a23, f32(1, 2, 3) + NAN32 + f32(5, 6)))
    put("st_valid.safetensors", st(a23, f32(1, 2, 3, 4, 5, 6)))
    # --- Unet1D weights (the command's loader) -------------------------------------------
    w_init = f32(*([0.25] * 28))                                              # init_conv.weight (4, 1, 7)
    meta = b'"__metadata__":{"dim":"4","dim_mults":"1","groups":"1","length":"2","heads":"1","dim_head":"1"}'
    put("unet_not_unet.safetensors", st(b'{"foo":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1)))
    put("unet_missing_tensor.safetensors",
        st(b'{' + meta + b',"init_conv.weight":{"dtype":"F32","shape":[4,1,7],"data_offsets":[0,112]}}', w_init))
    put("unet_wrong_shape.safetensors",
        st(b'{' + meta + b',"init_conv.weight":{"dtype":"F32","shape":[4,1,5],"data_offsets":[0,80]}}', w_init[:80]))
    put("unet_f64.safetensors",
        st(b'{' + meta + b',"init_conv.weight":{"dtype":"F64","shape":[4,1,7],"data_offsets":[0,224]}}',
           f64(*([0.25] * 28))))
    put("unet_impossible_config.safetensors",
        st(b'{"__metadata__":{"dim":"4","dim_mults":"1","groups":"3"},'
           b'"init_conv.weight":{"dtype":"F32","shape":[4,1,7],"data_offsets":[0,112]}}', w_init))
    put("unet_bad_mults.safetensors",
        st(b'{"__metadata__":{"dim":"4","dim_mults":"1,x"},'
           b'"init_conv.weight":{"dtype":"F32","shape":[4,1,7],"data_offsets":[0,112]}}', w_init))
    put("unet_truncated.safetensors",
        st(b'{' + meta + b',"init_conv.weight":{"dtype":"F32","shape":[4,1,7],"data_offsets":[0,112]}}',
           w_init)[:-12])
    for f in sorted(os.listdir(HERE)):
        if not f.endswith(".py"):
            print(f"{os.path.getsize(os.path.join(HERE, f)):6d}  adversarial/{f}")


if __name__ == "__main__":
    main()
