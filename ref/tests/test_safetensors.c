/*
 * test_safetensors.c - the safetensors reader and writer: files written by the real
 * Python safetensors package (embedded below), byte-for-byte agreement of ggdm's
 * writer with it, round trips, hostile headers of every kind (each with its status
 * and a message), lookup/load/decode errors, and random mutations of valid files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ggdm/bytes.h"
#include "ggdm/safetensors.h"
#include "ggdm_test.h"

/* ------------------------------------------------------------------ reference files
 * Written by safetensors 0.8.0 (torch 1.13, numpy 1.24) with:
 *   import torch, numpy as np, safetensors.torch as stt, safetensors.numpy as stn
 *   ref_pt_f32 = stt.save({
 *       "downs.0.0.block1.proj.weight": torch.arange(24.).reshape(2, 3, 4) * 0.5 - 3.0,
 *       "downs.0.0.block1.proj.bias": torch.tensor([1.5, -2.25, 3.0e-3]),
 *       "time_mlp.scale": torch.tensor(0.125),            # 0-d
 *       "empty": torch.zeros(0, 3)}, metadata={"format": "pt"})
 *   ref_pt_mixed = stt.save({
 *       "model.w": torch.tensor([[1.0, 2.0], [3.0, float("inf")]]),
 *       "model.h": torch.tensor([1.0, -2.0, 0.5], dtype=torch.float16),
 *       "model.b": torch.tensor([1.0, -3.0], dtype=torch.bfloat16),
 *       "model.d": torch.tensor([0.1, -1e300], dtype=torch.float64),
 *       "model.i64": torch.tensor([-1, 2**40]), "model.i32": ... int32 [-7, 7],
 *       "model.i16": int16 [-300], "model.i8": int8 [-5, 5, 6], "model.u8": uint8 [200],
 *       "model.mask": torch.tensor([True, False, True]),
 *       "model.bn.num_batches_tracked": torch.tensor(12345)}, metadata={"format": "pt"})
 *   ref_np_escapes = stn.save({
 *       "a\"b\\c\n\u00e9": np.array([1.0, -0.0], dtype=np.float32),
 *       "x/y": np.arange(3, dtype=np.float64)},
 *       metadata={"note": "line1\nline2 \"q\" \\ \u00e9\U0001F600\x01", "format": "np"})
 *   ref_pt_empty = stt.save({});  ref_pt_meta_only = stt.save({}, metadata={"k": "v"})
 * (safetensors orders tensors by dtype alignment, then name; metadata order is that
 * of a Rust HashMap, i.e. arbitrary.)
 */
static const uint8_t ref_pt_f32[456] = {
    0x50, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65,
    0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x66, 0x6f,
    0x72, 0x6d, 0x61, 0x74, 0x22, 0x3a, 0x22, 0x70, 0x74, 0x22, 0x7d, 0x2c, 0x22, 0x64,
    0x6f, 0x77, 0x6e, 0x73, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x62, 0x6c, 0x6f, 0x63, 0x6b,
    0x31, 0x2e, 0x70, 0x72, 0x6f, 0x6a, 0x2e, 0x62, 0x69, 0x61, 0x73, 0x22, 0x3a, 0x7b,
    0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c,
    0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x33, 0x5d, 0x2c, 0x22, 0x64,
    0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b,
    0x30, 0x2c, 0x31, 0x32, 0x5d, 0x7d, 0x2c, 0x22, 0x64, 0x6f, 0x77, 0x6e, 0x73, 0x2e,
    0x30, 0x2e, 0x30, 0x2e, 0x62, 0x6c, 0x6f, 0x63, 0x6b, 0x31, 0x2e, 0x70, 0x72, 0x6f,
    0x6a, 0x2e, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74,
    0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68,
    0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x2c, 0x33, 0x2c, 0x34, 0x5d, 0x2c, 0x22,
    0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a,
    0x5b, 0x31, 0x32, 0x2c, 0x31, 0x30, 0x38, 0x5d, 0x7d, 0x2c, 0x22, 0x65, 0x6d, 0x70,
    0x74, 0x79, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22,
    0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b,
    0x30, 0x2c, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66,
    0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x31, 0x30, 0x38, 0x2c, 0x31, 0x30, 0x38,
    0x5d, 0x7d, 0x2c, 0x22, 0x74, 0x69, 0x6d, 0x65, 0x5f, 0x6d, 0x6c, 0x70, 0x2e, 0x73,
    0x63, 0x61, 0x6c, 0x65, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22,
    0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22,
    0x3a, 0x5b, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73,
    0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x31, 0x30, 0x38, 0x2c, 0x31, 0x31, 0x32, 0x5d,
    0x7d, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00,
    0x10, 0xc0, 0xa6, 0x9b, 0x44, 0x3b, 0x00, 0x00, 0x40, 0xc0, 0x00, 0x00, 0x20, 0xc0,
    0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0xc0, 0xbf, 0x00, 0x00, 0x80, 0xbf, 0x00, 0x00,
    0x00, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0x3f,
    0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x20, 0x40, 0x00, 0x00,
    0x40, 0x40, 0x00, 0x00, 0x60, 0x40, 0x00, 0x00, 0x80, 0x40, 0x00, 0x00, 0x90, 0x40,
    0x00, 0x00, 0xa0, 0x40, 0x00, 0x00, 0xb0, 0x40, 0x00, 0x00, 0xc0, 0x40, 0x00, 0x00,
    0xd0, 0x40, 0x00, 0x00, 0xe0, 0x40, 0x00, 0x00, 0xf0, 0x40, 0x00, 0x00, 0x00, 0x41,
    0x00, 0x00, 0x08, 0x41, 0x00, 0x00, 0x00, 0x3e
};

static const uint8_t ref_pt_mixed[827] = {
    0xe0, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65,
    0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x66, 0x6f,
    0x72, 0x6d, 0x61, 0x74, 0x22, 0x3a, 0x22, 0x70, 0x74, 0x22, 0x7d, 0x2c, 0x22, 0x6d,
    0x6f, 0x64, 0x65, 0x6c, 0x2e, 0x62, 0x6e, 0x2e, 0x6e, 0x75, 0x6d, 0x5f, 0x62, 0x61,
    0x74, 0x63, 0x68, 0x65, 0x73, 0x5f, 0x74, 0x72, 0x61, 0x63, 0x6b, 0x65, 0x64, 0x22,
    0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x49, 0x36, 0x34,
    0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x5d, 0x2c, 0x22,
    0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a,
    0x5b, 0x30, 0x2c, 0x38, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x2e,
    0x69, 0x36, 0x34, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a,
    0x22, 0x49, 0x36, 0x34, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a,
    0x5b, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73,
    0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x38, 0x2c, 0x32, 0x34, 0x5d, 0x7d, 0x2c, 0x22,
    0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x2e, 0x64, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79,
    0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x36, 0x34, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61,
    0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f,
    0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x32, 0x34, 0x2c, 0x34,
    0x30, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x2e, 0x77, 0x22, 0x3a,
    0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22,
    0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x2c, 0x32, 0x5d,
    0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73,
    0x22, 0x3a, 0x5b, 0x34, 0x30, 0x2c, 0x35, 0x36, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x6f,
    0x64, 0x65, 0x6c, 0x2e, 0x69, 0x33, 0x32, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79,
    0x70, 0x65, 0x22, 0x3a, 0x22, 0x49, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61,
    0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f,
    0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x35, 0x36, 0x2c, 0x36,
    0x34, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x2e, 0x62, 0x22, 0x3a,
    0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x42, 0x46, 0x31, 0x36,
    0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x5d, 0x2c,
    0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22,
    0x3a, 0x5b, 0x36, 0x34, 0x2c, 0x36, 0x38, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x6f, 0x64,
    0x65, 0x6c, 0x2e, 0x68, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22,
    0x3a, 0x22, 0x46, 0x31, 0x36, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22,
    0x3a, 0x5b, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66,
    0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x36, 0x38, 0x2c, 0x37, 0x34, 0x5d, 0x7d,
    0x2c, 0x22, 0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x2e, 0x69, 0x31, 0x36, 0x22, 0x3a, 0x7b,
    0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x49, 0x31, 0x36, 0x22, 0x2c,
    0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x31, 0x5d, 0x2c, 0x22, 0x64,
    0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b,
    0x37, 0x34, 0x2c, 0x37, 0x36, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x6f, 0x64, 0x65, 0x6c,
    0x2e, 0x69, 0x38, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a,
    0x22, 0x49, 0x38, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b,
    0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65,
    0x74, 0x73, 0x22, 0x3a, 0x5b, 0x37, 0x36, 0x2c, 0x37, 0x39, 0x5d, 0x7d, 0x2c, 0x22,
    0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x2e, 0x75, 0x38, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74,
    0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x55, 0x38, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61,
    0x70, 0x65, 0x22, 0x3a, 0x5b, 0x31, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f,
    0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x37, 0x39, 0x2c, 0x38,
    0x30, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x2e, 0x6d, 0x61, 0x73,
    0x6b, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x42,
    0x4f, 0x4f, 0x4c, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b,
    0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65,
    0x74, 0x73, 0x22, 0x3a, 0x5b, 0x38, 0x30, 0x2c, 0x38, 0x33, 0x5d, 0x7d, 0x7d, 0x20,
    0x20, 0x20, 0x39, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x9a, 0x99,
    0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f, 0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0xfe,
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0x40, 0x00, 0x00,
    0x80, 0x7f, 0xf9, 0xff, 0xff, 0xff, 0x07, 0x00, 0x00, 0x00, 0x80, 0x3f, 0x40, 0xc0,
    0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xd4, 0xfe, 0xfb, 0x05, 0x06, 0xc8, 0x01, 0x00,
    0x01
};

static const uint8_t ref_np_escapes[240] = {
    0xc8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65,
    0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x6e, 0x6f,
    0x74, 0x65, 0x22, 0x3a, 0x22, 0x6c, 0x69, 0x6e, 0x65, 0x31, 0x5c, 0x6e, 0x6c, 0x69,
    0x6e, 0x65, 0x32, 0x20, 0x5c, 0x22, 0x71, 0x5c, 0x22, 0x20, 0x5c, 0x5c, 0x20, 0xc3,
    0xa9, 0xf0, 0x9f, 0x98, 0x80, 0x5c, 0x75, 0x30, 0x30, 0x30, 0x31, 0x22, 0x2c, 0x22,
    0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74, 0x22, 0x3a, 0x22, 0x6e, 0x70, 0x22, 0x7d, 0x2c,
    0x22, 0x78, 0x2f, 0x79, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22,
    0x3a, 0x22, 0x46, 0x36, 0x34, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22,
    0x3a, 0x5b, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66,
    0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x30, 0x2c, 0x32, 0x34, 0x5d, 0x7d, 0x2c,
    0x22, 0x61, 0x5c, 0x22, 0x62, 0x5c, 0x5c, 0x63, 0x5c, 0x6e, 0xc3, 0xa9, 0x22, 0x3a,
    0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22,
    0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x5d, 0x2c, 0x22,
    0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a,
    0x5b, 0x32, 0x34, 0x2c, 0x33, 0x32, 0x5d, 0x7d, 0x7d, 0x20, 0x20, 0x20, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00,
    0x00, 0x80
};

static const uint8_t ref_pt_empty[16] = {
    0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x7d, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20
};

static const uint8_t ref_pt_meta_only[40] = {
    0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65,
    0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x6b, 0x22,
    0x3a, 0x22, 0x76, 0x22, 0x7d, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20
};

/* ------------------------------------------------------------------ helpers */

/* Asserts a status and, for errors, a non-empty one-line message. */
#define EXPECT_STATUS(got, want, msg)                                                       \
    do {                                                                                     \
        ggdm_status got_ = (got);                                                            \
        if (got_ != (want)) {                                                                \
            print_error("%s:%d: got '%s', want '%s' (msg: %s)\n", __FILE__, __LINE__,      \
                        ggdm_status_str(got_), ggdm_status_str(want), (msg));               \
        }                                                                                    \
        assert_int_equal(got_, (want));                                                      \
        if ((want) != GGDM_OK) {                                                             \
            assert_true(strlen(msg) > 0);                                                    \
            assert_true(strlen(msg) < GGDM_ST_MSG_LEN);                                      \
            assert_true(strchr(msg, '\n') == NULL);                                          \
        } else {                                                                             \
            assert_string_equal(msg, "");                                                    \
        }                                                                                    \
    } while (0)

static int has(const char *msg, const char *needle)
{
    if (strstr(msg, needle) == NULL) {
        print_error("message '%s' lacks '%s'\n", msg, needle);
        return 0;
    }
    return 1;
}

#define MAXT 64
#define MAXM 16
static ggdm_st_tensor tens[MAXT];
static ggdm_st_meta metas[MAXM];
static uint8_t filebuf[1u << 16];
static char msg[GGDM_ST_MSG_LEN];

static ggdm_status parse(const uint8_t *f, uint64_t len, uint64_t *nt, uint64_t *nm)
{
    return ggdm_st_parse(f, len, tens, MAXT, nt, metas, MAXM, nm, msg);
}

/* Index of a tensor by name (must exist). */
static uint64_t find(const uint8_t *f, uint64_t len, uint64_t nt, const char *name)
{
    uint64_t idx = 999;
    EXPECT_STATUS(ggdm_st_find(f, len, tens, nt, name, &idx, msg), GGDM_OK, msg);
    assert_true(idx < nt);
    return idx;
}

/* Decoded string, NUL-terminated, into a static buffer. */
static const char *decode(const uint8_t *f, uint64_t len, uint64_t off, uint64_t n,
                          uint64_t *out_len)
{
    static char buf[4096];
    assert_int_equal(ggdm_st_string(f, len, off, n, buf, sizeof buf, out_len), GGDM_OK);
    return buf;
}

static void check_shape(const ggdm_st_tensor *t, ggdm_st_dtype dt, int ndim, uint64_t s0,
                        uint64_t s1, uint64_t s2)
{
    const uint64_t s[3] = {s0, s1, s2};
    int k;
    assert_int_equal(t->dtype, dt);
    assert_int_equal(t->ndim, ndim);
    for (k = 0; k < ndim; k++) {
        assert_true(t->shape[k] == s[k]);
    }
    for (k = ndim; k < GGDM_ST_MAX_DIMS; k++) {
        assert_true(t->shape[k] == 0);
    }
}

/* Builds a file: 8-byte length, the JSON text, then data_len bytes (0x00..). */
static uint64_t mk(const char *json, uint64_t data_len)
{
    uint64_t n = (uint64_t)strlen(json), i;
    assert_true(8 + n + data_len <= sizeof filebuf);
    ggdm_le_store_u64(filebuf, n);
    memcpy(filebuf + 8, json, (size_t)n);
    for (i = 0; i < data_len; i++) {
        filebuf[8 + n + i] = (uint8_t)i;
    }
    return 8 + n + data_len;
}

/* ------------------------------------------------------------------ reference files */

static void test_reference_pt_f32(void **state)
{
    const uint8_t *f = ref_pt_f32;
    const uint64_t len = sizeof ref_pt_f32;
    uint64_t nt = 0, nm = 0, i, k, hb = 0, db = 0, wr = 0, n = 0;
    float vals[24];
    const ggdm_st_tensor *t;
    (void)state;

    EXPECT_STATUS(parse(f, len, &nt, &nm), GGDM_OK, msg);
    assert_true(nt == 4 && nm == 1);
    /* In order of offset; the data buffer starts at 8 + 336 = 344. */
    for (i = 0; i < nt; i++) {
        assert_true(tens[i].data_off == 344 + tens[i].begin);
        assert_true(tens[i].data_len == tens[i].end - tens[i].begin);
        assert_true(tens[i].count * 4 == tens[i].data_len);
        assert_int_equal(tens[i].name_escaped, 0);
        if (i > 0) {
            assert_true(tens[i].begin == tens[i - 1].end);
        }
    }
    assert_true(tens[nt - 1].end == len - 344);

    t = &tens[find(f, len, nt, "downs.0.0.block1.proj.weight")];
    check_shape(t, GGDM_ST_F32, 3, 2, 3, 4);
    assert_true(t->begin == 12 && t->end == 108 && t->count == 24);
    EXPECT_STATUS(ggdm_st_load_f32(f, len, t, vals, 24, msg), GGDM_OK, msg);
    for (k = 0; k < 24; k++) {
        assert_true(vals[k] == (float)k * 0.5f - 3.0f);
    }

    t = &tens[find(f, len, nt, "downs.0.0.block1.proj.bias")];
    check_shape(t, GGDM_ST_F32, 1, 3, 0, 0);
    EXPECT_STATUS(ggdm_st_load_f32(f, len, t, vals, 3, msg), GGDM_OK, msg);
    assert_true(vals[0] == 1.5f && vals[1] == -2.25f && vals[2] == 3.0e-3f);

    t = &tens[find(f, len, nt, "time_mlp.scale")];
    check_shape(t, GGDM_ST_F32, 0, 0, 0, 0);
    assert_true(t->count == 1 && t->data_len == 4);
    EXPECT_STATUS(ggdm_st_load_f32(f, len, t, vals, 1, msg), GGDM_OK, msg);
    assert_true(vals[0] == 0.125f);

    t = &tens[find(f, len, nt, "empty")];
    check_shape(t, GGDM_ST_F32, 2, 0, 3, 0);
    assert_true(t->count == 0 && t->data_len == 0 && t->begin == 108);
    EXPECT_STATUS(ggdm_st_load_f32(f, len, t, NULL, 0, msg), GGDM_OK, msg);

    assert_string_equal(decode(f, len, metas[0].key_off, metas[0].key_len, &n), "format");
    assert_string_equal(decode(f, len, metas[0].value_off, metas[0].value_len, &n), "pt");
    EXPECT_STATUS(ggdm_st_find_meta(f, len, metas, nm, "format", &k, msg), GGDM_OK, msg);

    /* ggdm's writer, given Python's order (dtype alignment, then name), writes the
     * same bytes: header and data. */
    {
        static const ggdm_st_spec specs[4] = {
            {"downs.0.0.block1.proj.bias", GGDM_ST_F32, 1, {3}},
            {"downs.0.0.block1.proj.weight", GGDM_ST_F32, 3, {2, 3, 4}},
            {"empty", GGDM_ST_F32, 2, {0, 3}},
            {"time_mlp.scale", GGDM_ST_F32, 0, {0}}};
        static const ggdm_st_kv meta[1] = {{"format", "pt"}};
        float w[24], b[3] = {1.5f, -2.25f, 3.0e-3f}, s = 0.125f;
        static uint8_t out[456];
        for (k = 0; k < 24; k++) {
            w[k] = (float)k * 0.5f - 3.0f;
        }
        EXPECT_STATUS(ggdm_st_header_size(specs, 4, meta, 1, &hb, &db, msg), GGDM_OK, msg);
        assert_true(hb == 344 && db == 112);
        EXPECT_STATUS(ggdm_st_write_header(specs, 4, meta, 1, out, sizeof out, &wr, msg),
                      GGDM_OK, msg);
        assert_true(wr == hb);
        assert_int_equal(ggdm_st_encode_f32(b, 3, out + hb), GGDM_OK);
        assert_int_equal(ggdm_st_encode_f32(w, 24, out + hb + 12), GGDM_OK);
        assert_int_equal(ggdm_st_encode_f32(&s, 1, out + hb + 108), GGDM_OK);
        assert_memory_equal(out, ref_pt_f32, sizeof ref_pt_f32);
    }
}

static void test_reference_pt_mixed(void **state)
{
    const uint8_t *f = ref_pt_mixed;
    const uint64_t len = sizeof ref_pt_mixed;
    uint64_t nt = 0, nm = 0, idx = 0, i;
    float w[4];
    static const struct {
        const char *name;
        ggdm_st_dtype dt;
        uint64_t count;
    } want[11] = {
        {"model.bn.num_batches_tracked", GGDM_ST_I64, 1}, {"model.i64", GGDM_ST_I64, 2},
        {"model.d", GGDM_ST_F64, 2},   {"model.w", GGDM_ST_F32, 4},
        {"model.i32", GGDM_ST_I32, 2}, {"model.b", GGDM_ST_BF16, 2},
        {"model.h", GGDM_ST_F16, 3},   {"model.i16", GGDM_ST_I16, 1},
        {"model.i8", GGDM_ST_I8, 3},   {"model.u8", GGDM_ST_U8, 1},
        {"model.mask", GGDM_ST_BOOL, 3}};
    (void)state;

    EXPECT_STATUS(parse(f, len, &nt, &nm), GGDM_OK, msg);
    assert_true(nt == 11 && nm == 1);
    for (i = 0; i < nt; i++) {
        /* Python wrote them in this order, so offset order = header order. */
        uint64_t n = 0;
        assert_string_equal(decode(f, len, tens[i].name_off, tens[i].name_len, &n),
                            want[i].name);
        assert_int_equal(tens[i].dtype, want[i].dt);
        assert_true(tens[i].count == want[i].count);
        assert_true(tens[i].header_index == i);
        assert_true(tens[i].data_len * 8 == want[i].count * ggdm_st_dtype_bits(want[i].dt));
    }

    /* Names prefixed "model.": the prefixed lookup finds them by their bare name. */
    EXPECT_STATUS(ggdm_st_find(f, len, tens, nt, "w", &idx, msg), GGDM_ERR_ARG, msg);
    assert_true(has(msg, "no tensor 'w'"));
    EXPECT_STATUS(ggdm_st_find_prefixed(f, len, tens, nt, "model.", "w", &idx, msg), GGDM_OK,
                  msg);
    assert_true(idx == 3);
    EXPECT_STATUS(ggdm_st_find_prefixed(f, len, tens, nt, "model.", "model.w", &idx, msg),
                  GGDM_OK, msg);
    assert_true(idx == 3);
    EXPECT_STATUS(ggdm_st_find_prefixed(f, len, tens, nt, "", "w", &idx, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_find_prefixed(f, len, tens, nt, "model.", "nope", &idx, msg),
                  GGDM_ERR_ARG, msg);
    assert_true(has(msg, "'nope'") && has(msg, "'model.'"));

    EXPECT_STATUS(ggdm_st_load_f32(f, len, &tens[3], w, 4, msg), GGDM_OK, msg);
    assert_true(w[0] == 1.0f && w[1] == 2.0f && w[2] == 3.0f);
    assert_true(ggdm_f32_bits(w[3]) == 0x7f800000u);

    /* Only F32 loads; the message names the dtype. */
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &tens[6], w, 4, msg), GGDM_ERR_UNSUPPORTED, msg);
    assert_true(has(msg, "F16") && has(msg, "model.h"));
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &tens[5], w, 4, msg), GGDM_ERR_UNSUPPORTED, msg);
    assert_true(has(msg, "BF16"));
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &tens[2], w, 4, msg), GGDM_ERR_UNSUPPORTED, msg);
    assert_true(has(msg, "F64"));
    /* The stored bytes are where the header says: the F64 -1e300, the I64 2^40. */
    assert_true(ggdm_le_load_f64(f + tens[2].data_off + 8) == -1e300);
    assert_true(ggdm_le_load_i64(f + tens[1].data_off + 8) == ((int64_t)1 << 40));
    assert_true(ggdm_le_load_i64(f + tens[0].data_off) == 12345);
}

static void test_reference_escapes(void **state)
{
    const uint8_t *f = ref_np_escapes;
    const uint64_t len = sizeof ref_np_escapes;
    const char *weird = "a\"b\\c\n\xc3\xa9";
    const char *note = "line1\nline2 \"q\" \\ \xc3\xa9\xf0\x9f\x98\x80\x01";
    uint64_t nt = 0, nm = 0, idx = 0, n = 0, hb = 0, db = 0, wr = 0;
    float v[2];
    (void)state;

    EXPECT_STATUS(parse(f, len, &nt, &nm), GGDM_OK, msg);
    assert_true(nt == 2 && nm == 2);
    idx = find(f, len, nt, weird);
    assert_int_equal(tens[idx].name_escaped, 1);
    assert_string_equal(decode(f, len, tens[idx].name_off, tens[idx].name_len, &n), weird);
    assert_true(n == strlen(weird));
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &tens[idx], v, 2, msg), GGDM_OK, msg);
    assert_true(ggdm_f32_bits(v[0]) == 0x3f800000u && ggdm_f32_bits(v[1]) == 0x80000000u);
    idx = find(f, len, nt, "x/y");
    assert_int_equal(tens[idx].dtype, GGDM_ST_F64);

    /* Metadata comes back sorted by key: "format" < "note". */
    assert_string_equal(decode(f, len, metas[0].key_off, metas[0].key_len, &n), "format");
    assert_string_equal(decode(f, len, metas[0].value_off, metas[0].value_len, &n), "np");
    assert_string_equal(decode(f, len, metas[1].key_off, metas[1].key_len, &n), "note");
    assert_int_equal(metas[1].value_escaped, 1);
    assert_string_equal(decode(f, len, metas[1].value_off, metas[1].value_len, &n), note);
    EXPECT_STATUS(ggdm_st_find_meta(f, len, metas, nm, "note", &idx, msg), GGDM_OK, msg);
    assert_true(idx == 1);
    EXPECT_STATUS(ggdm_st_find_meta(f, len, metas, nm, "nope", &idx, msg), GGDM_ERR_ARG, msg);

    /* ggdm escapes exactly as safetensors (serde_json) does: same header bytes. */
    {
        ggdm_st_spec specs[2];
        ggdm_st_kv meta[2];
        static uint8_t out[256];
        memset(specs, 0, sizeof specs);
        specs[0].name = "x/y";
        specs[0].dtype = GGDM_ST_F64;
        specs[0].ndim = 1;
        specs[0].shape[0] = 3;
        specs[1].name = weird;
        specs[1].dtype = GGDM_ST_F32;
        specs[1].ndim = 1;
        specs[1].shape[0] = 2;
        meta[0].key = "note";
        meta[0].value = note;
        meta[1].key = "format";
        meta[1].value = "np";
        EXPECT_STATUS(ggdm_st_header_size(specs, 2, meta, 2, &hb, &db, msg), GGDM_OK, msg);
        assert_true(hb + db == len && db == 32);
        EXPECT_STATUS(ggdm_st_write_header(specs, 2, meta, 2, out, sizeof out, &wr, msg),
                      GGDM_OK, msg);
        assert_memory_equal(out, f, (size_t)hb);
    }
}

static void test_reference_empty(void **state)
{
    uint64_t nt = 9, nm = 9, hb = 0, db = 0, wr = 0, n = 0;
    uint8_t out[64];
    static const ggdm_st_kv kv[1] = {{"k", "v"}};
    (void)state;
    EXPECT_STATUS(parse(ref_pt_empty, sizeof ref_pt_empty, &nt, &nm), GGDM_OK, msg);
    assert_true(nt == 0 && nm == 0);
    /* No tensors, no metadata: the size query itself succeeds. */
    EXPECT_STATUS(ggdm_st_parse(ref_pt_empty, sizeof ref_pt_empty, NULL, 0, &nt, NULL, 0, &nm,
                                msg),
                  GGDM_OK, msg);
    EXPECT_STATUS(parse(ref_pt_meta_only, sizeof ref_pt_meta_only, &nt, &nm), GGDM_OK, msg);
    assert_true(nt == 0 && nm == 1);
    assert_string_equal(decode(ref_pt_meta_only, sizeof ref_pt_meta_only, metas[0].value_off,
                               metas[0].value_len, &n),
                        "v");

    EXPECT_STATUS(ggdm_st_write_header(NULL, 0, NULL, 0, out, sizeof out, &wr, msg), GGDM_OK,
                  msg);
    assert_true(wr == sizeof ref_pt_empty);
    assert_memory_equal(out, ref_pt_empty, sizeof ref_pt_empty);
    EXPECT_STATUS(ggdm_st_header_size(NULL, 0, kv, 1, &hb, &db, msg), GGDM_OK, msg);
    assert_true(hb == sizeof ref_pt_meta_only && db == 0);
    EXPECT_STATUS(ggdm_st_write_header(NULL, 0, kv, 1, out, sizeof out, &wr, msg), GGDM_OK, msg);
    assert_memory_equal(out, ref_pt_meta_only, sizeof ref_pt_meta_only);
}

/* ------------------------------------------------------------------ round trip */

static void test_round_trip(void **state)
{
    static const ggdm_st_spec specs[5] = {
        {"downs.0.0.block1.proj.weight", GGDM_ST_F32, 3, {4, 3, 5}},
        {"scalar", GGDM_ST_F32, 0, {0}},
        {"ups.1.bias", GGDM_ST_F32, 1, {7}},
        {"nothing", GGDM_ST_F32, 2, {0, 5}},
        {"tab\there \"quoted\" \xe2\x82\xac", GGDM_ST_F32, 2, {2, 1}}};
    static const ggdm_st_kv meta[3] = {
        {"format", "pt"}, {"step", "1200"}, {"json", "{\"lr\": 0.001, \"path\": \"a\\\\b\"}\n"}};
    static float vals[5][64], back[64];
    uint64_t hb = 0, db = 0, wr = 0, nt = 0, nm = 0, off, i, k, n = 0;
    (void)state;

    for (i = 0; i < 5; i++) {
        for (k = 0; k < 64; k++) {
            vals[i][k] = (float)((double)(k * 7 + i) / 3.0 - 5.0);
        }
    }
    vals[0][1] = -0.0f;
    vals[0][2] = ggdm_f32_from_bits(0x7fc00001u); /* a NaN payload survives */
    vals[0][3] = ggdm_f32_from_bits(0xff800000u); /* -inf */
    vals[0][4] = ggdm_f32_from_bits(0x00000001u); /* smallest subnormal */

    EXPECT_STATUS(ggdm_st_header_size(specs, 5, meta, 3, &hb, &db, msg), GGDM_OK, msg);
    assert_true(hb % 8 == 0);
    assert_true(db == 4 * (60 + 1 + 7 + 0 + 2));
    /* Too small a buffer: nothing written, the size reported. */
    EXPECT_STATUS(ggdm_st_write_header(specs, 5, meta, 3, filebuf, hb - 1, &wr, msg),
                  GGDM_ERR_BUFFER_TOO_SMALL, msg);
    assert_true(wr == hb);
    EXPECT_STATUS(ggdm_st_write_header(specs, 5, meta, 3, filebuf, sizeof filebuf, &wr, msg),
                  GGDM_OK, msg);
    off = hb;
    for (i = 0; i < 5; i++) {
        uint64_t bytes = 0;
        assert_int_equal(ggdm_st_data_bytes(specs[i].dtype, specs[i].ndim, specs[i].shape, &bytes),
                         GGDM_OK);
        assert_int_equal(ggdm_st_encode_f32(vals[i], bytes / 4, filebuf + off), GGDM_OK);
        off += bytes;
    }
    assert_true(off == hb + db);
    /* The padding is spaces and the JSON starts with '{'. */
    assert_int_equal(filebuf[8], '{');
    assert_true(filebuf[hb - 1] == ' ' || filebuf[hb - 1] == '}');

    EXPECT_STATUS(parse(filebuf, off, &nt, &nm), GGDM_OK, msg);
    assert_true(nt == 5 && nm == 3);
    for (i = 0; i < 5; i++) {
        uint64_t idx = find(filebuf, off, nt, specs[i].name);
        const ggdm_st_tensor *t = &tens[idx];
        assert_int_equal(t->dtype, GGDM_ST_F32);
        assert_int_equal(t->ndim, specs[i].ndim);
        for (k = 0; k < (uint64_t)t->ndim; k++) {
            assert_true(t->shape[k] == specs[i].shape[k]);
        }
        assert_true(t->header_index == i); /* written in the given order */
        assert_true(t->data_off % 4 == 0);
        if (t->count > 0) {
            EXPECT_STATUS(ggdm_st_load_f32(filebuf, off, t, back, t->count - 1, msg),
                          GGDM_ERR_BUFFER_TOO_SMALL, msg);
        }
        EXPECT_STATUS(ggdm_st_load_f32(filebuf, off, t, back, 64, msg), GGDM_OK, msg);
        for (k = 0; k < t->count; k++) {
            assert_true(ggdm_f32_bits(back[k]) == ggdm_f32_bits(vals[i][k]));
        }
    }
    for (i = 0; i < 3; i++) {
        uint64_t idx = 99;
        EXPECT_STATUS(ggdm_st_find_meta(filebuf, off, metas, nm, meta[i].key, &idx, msg), GGDM_OK,
                      msg);
        assert_string_equal(decode(filebuf, off, metas[idx].value_off, metas[idx].value_len, &n),
                            meta[i].value);
    }
}

/* ------------------------------------------------------------------ size protocol */

static void test_size_query(void **state)
{
    const uint8_t *f = ref_pt_mixed;
    const uint64_t len = sizeof ref_pt_mixed;
    uint64_t nt = 0, nm = 0;
    (void)state;
    EXPECT_STATUS(ggdm_st_parse(f, len, NULL, 0, &nt, NULL, 0, &nm, msg),
                  GGDM_ERR_BUFFER_TOO_SMALL, msg);
    assert_true(nt == 11 && nm == 1);
    assert_true(has(msg, "11 tensors"));
    EXPECT_STATUS(ggdm_st_parse(f, len, tens, 10, &nt, metas, 1, &nm, msg),
                  GGDM_ERR_BUFFER_TOO_SMALL, msg);
    assert_true(nt == 11 && nm == 1);
    EXPECT_STATUS(ggdm_st_parse(f, len, tens, 11, &nt, metas, 0, &nm, msg),
                  GGDM_ERR_BUFFER_TOO_SMALL, msg);
    assert_true(nt == 11 && nm == 1);
    EXPECT_STATUS(ggdm_st_parse(f, len, tens, 11, &nt, metas, 1, &nm, msg), GGDM_OK, msg);
    /* Argument errors. */
    EXPECT_STATUS(ggdm_st_parse(NULL, len, tens, 11, &nt, metas, 1, &nm, msg), GGDM_ERR_ARG,
                  msg);
    EXPECT_STATUS(ggdm_st_parse(f, len, NULL, 11, &nt, metas, 1, &nm, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_parse(f, len, tens, 11, NULL, metas, 1, &nm, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_parse(f, len, tens, 11, &nt, NULL, 1, &nm, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_parse(f, len, tens, 11, &nt, metas, 1, NULL, msg), GGDM_ERR_ARG, msg);
    /* A null msg is allowed. */
    assert_int_equal(ggdm_st_parse(f, len, tens, 11, &nt, metas, 1, &nm, NULL), GGDM_OK);
    assert_int_equal(ggdm_st_parse(f, 7, tens, 11, &nt, metas, 1, &nm, NULL), GGDM_ERR_FORMAT);
}

/* ------------------------------------------------------------------ hostile headers */

typedef struct hostile {
    const char *label;
    const char *json;
    uint64_t data_len;
    ggdm_status want;
    const char *needle; /* substring of the message */
} hostile;

#define T1 "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
#define T2 "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}"

static const hostile hostiles[] = {
    /* JSON syntax */
    {"empty object ok", "{}", 0, GGDM_OK, ""},
    {"truncated", "{\"a\":{\"dtype\":\"F32\"", 0, GGDM_ERR_FORMAT, "ends early"},
    {"truncated name", "{\"a", 0, GGDM_ERR_FORMAT, "unterminated string"},
    {"unterminated string", "{\"a\":{\"dtype\":\"F32}}", 0, GGDM_ERR_FORMAT, "unterminated"},
    {"trailing comma top", "{\"a\":" T1 ",}", 4, GGDM_ERR_FORMAT, "tensor name string"},
    {"trailing comma entry", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],}}",
     4, GGDM_ERR_FORMAT, "key string"},
    {"trailing comma shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}",
     4, GGDM_ERR_FORMAT, "integer in shape"},
    {"trailing comma meta", "{\"__metadata__\":{\"k\":\"v\",}}", 0, GGDM_ERR_FORMAT,
     "key string in __metadata__"},
    {"missing colon", "{\"a\" " T1 "}", 4, GGDM_ERR_FORMAT, "':'"},
    {"missing comma", "{\"a\":" T1 " \"b\":" T2 "}", 8, GGDM_ERR_FORMAT, "',' or '}'"},
    {"bad escape", "{\"a\\q\":" T1 "}", 4, GGDM_ERR_FORMAT, "bad escape"},
    {"short \\u", "{\"a\\u12\":" T1 "}", 4, GGDM_ERR_FORMAT, "\\u escape"},
    {"lone low surrogate", "{\"\\udc00\":" T1 "}", 4, GGDM_ERR_FORMAT, "surrogate"},
    {"lone high surrogate", "{\"\\ud800x\":" T1 "}", 4, GGDM_ERR_FORMAT, "surrogate"},
    {"control char", "{\"a\tb\":" T1 "}", 4, GGDM_ERR_FORMAT, "control character"},
    {"invalid utf8", "{\"a\xff\":" T1 "}", 4, GGDM_ERR_FORMAT, "UTF-8"},
    {"overlong utf8", "{\"a\xc0\xaf\":" T1 "}", 4, GGDM_ERR_FORMAT, "UTF-8"},
    {"utf8 surrogate", "{\"a\xed\xa0\x80\":" T1 "}", 4, GGDM_ERR_FORMAT, "UTF-8"},
    {"single quotes", "{'a':" T1 "}", 4, GGDM_ERR_FORMAT, "tensor name string"},
    {"nesting", "{\"a\":{\"dtype\":{\"x\":[[[[[[1]]]]]]}}}", 0, GGDM_ERR_FORMAT, "dtype string"},
    {"deep arrays", "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0, GGDM_ERR_FORMAT,
     "'{'"},
    {"non-object array", "[1, 2]", 0, GGDM_ERR_FORMAT, "does not start with '{'"},
    {"non-object string", "\"x\"", 0, GGDM_ERR_FORMAT, "does not start with '{'"},
    {"non-object number", "123", 0, GGDM_ERR_FORMAT, "does not start with '{'"},
    {"leading space", " {}", 0, GGDM_ERR_FORMAT, "does not start with '{'"},
    {"garbage after", "{} x", 0, GGDM_ERR_FORMAT, "after the header's JSON"},
    {"second object", "{}{}", 0, GGDM_ERR_FORMAT, "after the header's JSON"},
    {"trailing whitespace ok", "{}  \t\r\n  ", 0, GGDM_OK, ""},
    {"tensor not object", "{\"a\":[0,4]}", 4, GGDM_ERR_FORMAT, "'{' opening"},
    {"tensor null", "{\"a\":null}", 4, GGDM_ERR_FORMAT, "'{' opening"},
    /* entry keys */
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, GGDM_ERR_FORMAT,
     "no 'dtype'"},
    {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, GGDM_ERR_FORMAT,
     "no 'shape'"},
    {"missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, GGDM_ERR_FORMAT,
     "no 'data_offsets'"},
    {"empty entry", "{\"a\":{}}", 0, GGDM_ERR_FORMAT, "no 'dtype'"},
    {"extra key",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"layout\":\"C\"}}", 4,
     GGDM_ERR_FORMAT, "unknown key 'layout'"},
    {"duplicate key",
     "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "duplicate key 'dtype'"},
    {"escaped keys ok",
     "{\"a\":{\"d\\u0074ype\":\"F\\u00332\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, GGDM_OK,
     ""},
    {"keys any order ok", "{\"a\":{\"data_offsets\":[0,4],\"shape\":[1],\"dtype\":\"F32\"}}", 4,
     GGDM_OK, ""},
    /* dtypes */
    {"unknown dtype", "{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "unknown dtype 'F31'"},
    {"lowercase dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "unknown dtype 'f32'"},
    {"numpy dtype", "{\"a\":{\"dtype\":\"<f4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "unknown dtype"},
    {"dtype number", "{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "dtype string"},
    {"F4 ok", "{\"a\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[0,3]}}", 3, GGDM_OK, ""},
    {"F4 odd", "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2,
     GGDM_ERR_FORMAT, "whole number of bytes"},
    {"F6 ok", "{\"a\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}", 3, GGDM_OK,
     ""},
    {"C64 ok", "{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, GGDM_OK, ""},
    /* numbers */
    {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "negative"},
    {"float dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "not an integer"},
    {"exponent dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "not an integer"},
    {"plus dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[+1],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "integer in shape"},
    {"leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "leading zero"},
    {"string dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "integer in shape"},
    {"huge dim 2^63",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808,0],\"data_offsets\":[0,0]}}", 0,
     GGDM_ERR_FORMAT, "above 2^63"},
    {"huge dim 2^64+",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[123456789012345678901234567890],\"data_offsets\":[0,4]}}",
     4, GGDM_ERR_FORMAT, "above 2^63"},
    {"max dim ok",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,0],\"data_offsets\":[0,0]}}", 0,
     GGDM_OK, ""},
    {"product overflow",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0,
     GGDM_ERR_FORMAT, "more than 2^64 elements"},
    {"byte overflow",
     "{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952,2],\"data_offsets\":[0,0]}}", 0,
     GGDM_ERR_FORMAT, "2^64 bits"},
    {"shape not array", "{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_FORMAT, "'[' opening the shape"},
    {"too many dims",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
     GGDM_ERR_UNSUPPORTED, "more than 8 dimensions"},
    {"eight dims ok",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, GGDM_OK,
     ""},
    /* offsets */
    {"one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4,
     GGDM_ERR_FORMAT, "','"},
    {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", 4,
     GGDM_ERR_FORMAT, "']' after the two"},
    {"negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
     GGDM_ERR_FORMAT, "negative"},
    {"float offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4,
     GGDM_ERR_FORMAT, "not an integer"},
    {"begin after end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
     GGDM_ERR_FORMAT, "end before they begin"},
    {"size mismatch",
     "{\"downs.0.0.mlp.1.weight\":{\"dtype\":\"F32\",\"shape\":[512,256],\"data_offsets\":[0,100]}}",
     100, GGDM_ERR_FORMAT,
     "safetensors: tensor 'downs.0.0.mlp.1.weight': data_offsets [0, 100] hold 100 bytes but "
     "shape [512, 256] of F32 needs 524288"},
    {"offsets past data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
     GGDM_ERR_FORMAT, "run past the data buffer"},
    {"offsets far out",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775806,"
     "9223372036854775807]}}",
     4, GGDM_ERR_FORMAT, "run past"},
    {"overlap", "{\"a\":" T1 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}",
     10, GGDM_ERR_FORMAT, "overlap"},
    {"same range twice", "{\"a\":" T1 ",\"b\":" T1 "}", 4, GGDM_ERR_FORMAT, "overlap"},
    {"gap", "{\"a\":" T1 ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
     GGDM_ERR_FORMAT, "gap of 4 bytes"},
    {"not from 0", "{\"b\":" T2 "}", 8, GGDM_ERR_FORMAT, "begin at 0"},
    {"unused tail", "{\"a\":" T1 "}", 8, GGDM_ERR_FORMAT, "4 unused bytes"},
    {"data but no tensors", "{}", 1, GGDM_ERR_FORMAT, "unused"},
    {"unordered ok", "{\"b\":" T2 ",\"a\":" T1 "}", 8, GGDM_OK, ""},
    {"two empty at one offset ok",
     "{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},\"a\":" T1
     ",\"f\":{\"dtype\":\"I8\",\"shape\":[3,0],\"data_offsets\":[4,4]}}",
     4, GGDM_OK, ""},
    /* names */
    {"duplicate name", "{\"a\":" T1 ",\"a\":" T2 "}", 8, GGDM_ERR_FORMAT,
     "duplicate tensor name 'a'"},
    {"duplicate escaped name", "{\"a\":" T1 ",\"\\u0061\":" T2 "}", 8, GGDM_ERR_FORMAT,
     "duplicate tensor name"},
    {"empty name ok", "{\"\":" T1 "}", 4, GGDM_OK, ""},
    /* metadata */
    {"meta ok", "{\"__metadata__\":{\"a\":\"1\",\"b\":\"\"},\"t\":" T1 "}", 4, GGDM_OK, ""},
    {"meta null ok", "{\"__metadata__\":null,\"t\":" T1 "}", 4, GGDM_OK, ""},
    {"meta empty ok", "{\"__metadata__\":{}}", 0, GGDM_OK, ""},
    {"meta int", "{\"__metadata__\":{\"a\":1}}", 0, GGDM_ERR_FORMAT, "not a string"},
    {"meta null value", "{\"__metadata__\":{\"a\":null}}", 0, GGDM_ERR_FORMAT, "not a string"},
    {"meta object value", "{\"__metadata__\":{\"a\":{}}}", 0, GGDM_ERR_FORMAT, "not a string"},
    {"meta array value", "{\"__metadata__\":{\"a\":[\"x\"]}}", 0, GGDM_ERR_FORMAT,
     "not a string"},
    {"meta bool value", "{\"__metadata__\":{\"a\":true}}", 0, GGDM_ERR_FORMAT, "not a string"},
    {"meta array", "{\"__metadata__\":[\"a\"]}", 0, GGDM_ERR_FORMAT, "'{' opening __metadata__"},
    {"meta string", "{\"__metadata__\":\"a\"}", 0, GGDM_ERR_FORMAT, "'{' opening __metadata__"},
    {"meta twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, GGDM_ERR_FORMAT,
     "two '__metadata__'"},
    {"meta escaped twice", "{\"__metadata__\":{},\"\\u005f_metadata__\":{}}", 0, GGDM_ERR_FORMAT,
     "two '__metadata__'"},
    {"meta duplicate key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, GGDM_ERR_FORMAT,
     "duplicate __metadata__ key 'k'"},
    {"meta truncated", "{\"__metadata__\":{\"k\":", 0, GGDM_ERR_FORMAT, "ends early"},
};

static void test_hostile_headers(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof hostiles / sizeof hostiles[0]; i++) {
        const hostile *h = &hostiles[i];
        uint64_t len = mk(h->json, h->data_len), nt = 0, nm = 0;
        ggdm_status st = parse(filebuf, len, &nt, &nm);
        if (st != h->want) {
            print_error("case '%s': got '%s', want '%s' (msg: %s)\n", h->label,
                        ggdm_status_str(st), ggdm_status_str(h->want), msg);
        }
        EXPECT_STATUS(st, h->want, msg);
        if (h->needle[0] && !has(msg, h->needle)) {
            print_error("case '%s'\n", h->label);
            fail();
        }
    }
}

/* Specific outcomes of some accepted cases. */
static void test_accepted_details(void **state)
{
    uint64_t len, nt = 0, nm = 0;
    (void)state;
    /* Unordered entries that tile come back in offset order, header order kept. */
    len = mk("{\"b\":" T2 ",\"a\":" T1 "}", 8);
    EXPECT_STATUS(parse(filebuf, len, &nt, &nm), GGDM_OK, msg);
    assert_true(nt == 2);
    assert_true(tens[0].begin == 0 && tens[0].header_index == 1);
    assert_true(tens[1].begin == 4 && tens[1].header_index == 0);
    assert_true(filebuf[tens[0].name_off] == 'a');
    /* Zero-size tensors sharing an offset: ties broken by header order. */
    len = mk("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},\"a\":" T1
             ",\"f\":{\"dtype\":\"I8\",\"shape\":[3,0],\"data_offsets\":[4,4]}}",
             4);
    EXPECT_STATUS(parse(filebuf, len, &nt, &nm), GGDM_OK, msg);
    assert_true(nt == 3);
    assert_true(filebuf[tens[0].name_off] == 'a');
    assert_true(filebuf[tens[1].name_off] == 'e' && filebuf[tens[2].name_off] == 'f');
    /* Sub-byte dtypes: 6 F4 values in 3 bytes. */
    len = mk("{\"a\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[0,3]}}", 3);
    EXPECT_STATUS(parse(filebuf, len, &nt, &nm), GGDM_OK, msg);
    assert_true(tens[0].count == 6 && tens[0].data_len == 3);
    EXPECT_STATUS(ggdm_st_load_f32(filebuf, len, &tens[0], NULL, 0, msg), GGDM_ERR_UNSUPPORTED,
                  msg);
    assert_true(has(msg, "F4"));
    /* Too many tensors for the caller's room: the count needed comes back. */
    len = mk("{\"a\":" T1 ",\"b\":" T2 ",\"__metadata__\":{\"x\":\"y\"}}", 8);
    EXPECT_STATUS(ggdm_st_parse(filebuf, len, tens, 1, &nt, metas, 1, &nm, msg),
                  GGDM_ERR_BUFFER_TOO_SMALL, msg);
    assert_true(nt == 2 && nm == 1);
    assert_true(has(msg, "2 tensors"));
}

static void test_hostile_preamble(void **state)
{
    uint64_t nt = 0, nm = 0, len;
    uint8_t small[8] = {2, 0, 0, 0, 0, 0, 0, 0};
    (void)state;
    /* Shorter than 8 bytes, including empty. */
    for (len = 0; len < 8; len++) {
        EXPECT_STATUS(parse(small, len, &nt, &nm), GGDM_ERR_FORMAT, msg);
        assert_true(has(msg, "too short"));
    }
    /* Header length beyond the file. */
    len = mk("{}", 0);
    ggdm_le_store_u64(filebuf, 3);
    EXPECT_STATUS(parse(filebuf, len, &nt, &nm), GGDM_ERR_FORMAT, msg);
    assert_true(has(msg, "runs past the end"));
    ggdm_le_store_u64(filebuf, UINT64_MAX);
    EXPECT_STATUS(parse(filebuf, len, &nt, &nm), GGDM_ERR_FORMAT, msg);
    assert_true(has(msg, "too large"));
    /* Header too large (even when the file would be long enough). */
    ggdm_le_store_u64(filebuf, 100000001u);
    EXPECT_STATUS(parse(filebuf, len, &nt, &nm), GGDM_ERR_FORMAT, msg);
    assert_true(has(msg, "header too large"));
    EXPECT_STATUS(parse(filebuf, 8u + 100000001u, &nt, &nm), GGDM_ERR_FORMAT, msg);
    assert_true(has(msg, "header too large"));
    /* Zero-length header; header length 8 with the file's 8 bytes only. */
    ggdm_le_store_u64(filebuf, 0);
    EXPECT_STATUS(parse(filebuf, 8, &nt, &nm), GGDM_ERR_FORMAT, msg);
    assert_true(has(msg, "empty"));
    EXPECT_STATUS(parse(small, 8, &nt, &nm), GGDM_ERR_FORMAT, msg);
    /* The length is little-endian: bytes 00 00 .. 02 is huge, not 2. */
    len = mk("{}", 0);
    memset(filebuf, 0, 8);
    filebuf[7] = 2;
    EXPECT_STATUS(parse(filebuf, len, &nt, &nm), GGDM_ERR_FORMAT, msg);
    /* NUL padding is not whitespace. */
    len = mk("{}", 0);
    ggdm_le_store_u64(filebuf, 4);
    filebuf[10] = 0;
    filebuf[11] = 0;
    EXPECT_STATUS(parse(filebuf, 12, &nt, &nm), GGDM_ERR_FORMAT, msg);
    assert_true(has(msg, "after the header's JSON"));
}

/* ------------------------------------------------------------------ lookup, load, strings */

static void test_find_load_errors(void **state)
{
    const uint8_t *f = ref_pt_f32;
    const uint64_t len = sizeof ref_pt_f32;
    uint64_t nt = 0, nm = 0, idx = 0;
    ggdm_st_tensor bad;
    float out[4];
    (void)state;
    EXPECT_STATUS(parse(f, len, &nt, &nm), GGDM_OK, msg);
    EXPECT_STATUS(ggdm_st_find(f, len, tens, nt, "downs.0.0.block1.proj", &idx, msg),
                  GGDM_ERR_ARG, msg);
    assert_true(has(msg, "no tensor 'downs.0.0.block1.proj'"));
    EXPECT_STATUS(ggdm_st_find(f, len, tens, nt, "", &idx, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_find(f, len, tens, 0, "empty", &idx, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_find(NULL, len, tens, nt, "empty", &idx, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_find(f, len, tens, nt, NULL, &idx, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_find(f, len, tens, nt, "empty", NULL, msg), GGDM_ERR_ARG, msg);
    /* An entry pointing outside the file is refused, not followed. */
    bad = tens[0];
    bad.name_off = len;
    bad.name_len = 1;
    EXPECT_STATUS(ggdm_st_find(f, len, &bad, 1, "x", &idx, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &bad, out, 4, msg), GGDM_ERR_ARG, msg);
    idx = find(f, len, nt, "downs.0.0.block1.proj.bias");
    bad = tens[idx];
    bad.data_off = len - 8;
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &bad, out, 4, msg), GGDM_ERR_ARG, msg);
    bad = tens[idx];
    bad.count = 4;
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &bad, out, 4, msg), GGDM_ERR_ARG, msg);
    bad = tens[idx];
    bad.dtype = (ggdm_st_dtype)99;
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &bad, out, 4, msg), GGDM_ERR_UNSUPPORTED, msg);
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &tens[idx], out, 2, msg), GGDM_ERR_BUFFER_TOO_SMALL,
                  msg);
    assert_true(has(msg, "3 elements"));
    EXPECT_STATUS(ggdm_st_load_f32(f, len, &tens[idx], NULL, 3, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_load_f32(f, len, NULL, out, 3, msg), GGDM_ERR_ARG, msg);
    assert_int_equal(ggdm_st_encode_f32(NULL, 1, (uint8_t *)out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_encode_f32(NULL, 0, NULL), GGDM_OK);
    /* dtype names and sizes */
    assert_string_equal(ggdm_st_dtype_name(GGDM_ST_BF16), "BF16");
    assert_string_equal(ggdm_st_dtype_name(GGDM_ST_F8_E5M2FNUZ), "F8_E5M2FNUZ");
    assert_string_equal(ggdm_st_dtype_name((ggdm_st_dtype)GGDM_ST_DTYPE_COUNT), "?");
    assert_int_equal(ggdm_st_dtype_bits(GGDM_ST_F32), 32);
    assert_int_equal(ggdm_st_dtype_bits(GGDM_ST_F6_E3M2), 6);
    assert_int_equal(ggdm_st_dtype_bits(GGDM_ST_C64), 64);
    assert_int_equal(ggdm_st_dtype_bits((ggdm_st_dtype)-1), 0);
}

static void test_string_decode(void **state)
{
    /* Contents of JSON strings, decoded. */
    static const struct {
        const char *raw, *want;
        uint64_t want_len;
    } ok[] = {
        {"plain", "plain", 5},
        {"", "", 0},
        {"\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t", 8},
        {"\\u0041\\u00e9\\u20ac", "A\xc3\xa9\xe2\x82\xac", 6},
        {"\\ud83d\\ude00!", "\xf0\x9f\x98\x80!", 5},
        {"a\\u0000b", "a\0b", 3},
        {"\xc3\xa9\xf4\x8f\xbf\xbf", "\xc3\xa9\xf4\x8f\xbf\xbf", 6},
    };
    static const char *const bad[] = {"a\"b", "\\x", "\\u12g4", "\\ud800", "\\udc00",
                                      "\\ud800\\u0041", "\xf4\x90\x80\x80", "\xe0\x80\x80",
                                      "\x01", "\\"};
    char out[64];
    uint64_t n = 0;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const uint8_t *raw = (const uint8_t *)ok[i].raw;
        uint64_t rl = (uint64_t)strlen(ok[i].raw);
        assert_int_equal(ggdm_st_string(raw, rl, 0, rl, out, sizeof out, &n), GGDM_OK);
        assert_true(n == ok[i].want_len);
        assert_memory_equal(out, ok[i].want, (size_t)n);
        assert_int_equal(out[n], '\0');
        /* Exactly n + 1 bytes are needed. */
        assert_int_equal(ggdm_st_string(raw, rl, 0, rl, out, n + 1, &n), GGDM_OK);
        assert_int_equal(ggdm_st_string(raw, rl, 0, rl, out, n, &n), GGDM_ERR_BUFFER_TOO_SMALL);
        assert_true(n == ok[i].want_len);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const uint8_t *raw = (const uint8_t *)bad[i];
        uint64_t rl = (uint64_t)strlen(bad[i]);
        assert_int_equal(ggdm_st_string(raw, rl, 0, rl, out, sizeof out, &n), GGDM_ERR_FORMAT);
    }
    /* Ranges outside the file. */
    assert_int_equal(ggdm_st_string((const uint8_t *)"abc", 3, 2, 2, out, sizeof out, &n),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_string((const uint8_t *)"abc", 3, 4, 0, out, sizeof out, &n),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_string((const uint8_t *)"abc", 3, 1, UINT64_MAX, out, sizeof out, &n),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_string(NULL, 3, 0, 1, out, sizeof out, &n), GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_string((const uint8_t *)"abc", 3, 0, 3, out, sizeof out, NULL),
                     GGDM_ERR_ARG);
}

/* ------------------------------------------------------------------ writer errors */

static void test_writer_errors(void **state)
{
    ggdm_st_spec s[2];
    ggdm_st_kv kv[2];
    uint64_t hb = 0, db = 0, bytes = 0, wr = 0;
    uint8_t out[256];
    const uint64_t big[2] = {0x8000000000000000ull, 0};
    (void)state;
    memset(s, 0, sizeof s);
    s[0].name = "a";
    s[0].dtype = GGDM_ST_F32;
    s[0].ndim = 1;
    s[0].shape[0] = 2;
    s[1] = s[0];
    s[1].name = "b";
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_OK, msg);
    assert_true(db == 16);

    s[1].name = "a";
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    assert_true(has(msg, "duplicate tensor name 'a'"));
    s[1].name = "__metadata__";
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    s[1].name = NULL;
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    s[1].name = "bad\xff";
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    assert_true(has(msg, "UTF-8"));
    s[1].name = "b";
    s[1].ndim = 9;
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    s[1].ndim = -1;
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    s[1].ndim = 1;
    s[1].shape[0] = 0x8000000000000000ull;
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    s[1].shape[0] = 0x4000000000000000ull; /* 2^62 floats: 2^64 bytes */
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    {
        /* Each fits (2^61 - 1 bytes), nine together overflow 64 bits. */
        static const char *const names[9] = {"0", "1", "2", "3", "4", "5", "6", "7", "8"};
        ggdm_st_spec many[9];
        int k;
        memset(many, 0, sizeof many);
        for (k = 0; k < 9; k++) {
            many[k].name = names[k];
            many[k].dtype = GGDM_ST_U8;
            many[k].ndim = 1;
            many[k].shape[0] = 0x1fffffffffffffffull;
        }
        EXPECT_STATUS(ggdm_st_header_size(many, 8, NULL, 0, &hb, &db, msg), GGDM_OK, msg);
        EXPECT_STATUS(ggdm_st_header_size(many, 9, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
        assert_true(has(msg, "overflows"));
    }
    s[1].shape[0] = 3;
    s[1].dtype = GGDM_ST_F4;
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    s[1].dtype = (ggdm_st_dtype)GGDM_ST_DTYPE_COUNT;
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    s[1].dtype = GGDM_ST_F32;

    kv[0].key = "k";
    kv[0].value = "v";
    kv[1].key = "k";
    kv[1].value = "w";
    EXPECT_STATUS(ggdm_st_header_size(s, 2, kv, 2, &hb, &db, msg), GGDM_ERR_ARG, msg);
    assert_true(has(msg, "duplicate metadata key 'k'"));
    kv[1].key = "j";
    kv[1].value = NULL;
    EXPECT_STATUS(ggdm_st_header_size(s, 2, kv, 2, &hb, &db, msg), GGDM_ERR_ARG, msg);
    kv[1].value = "\xc3";
    EXPECT_STATUS(ggdm_st_header_size(s, 2, kv, 2, &hb, &db, msg), GGDM_ERR_ARG, msg);
    kv[1].value = "w";
    EXPECT_STATUS(ggdm_st_header_size(s, 2, kv, 2, &hb, &db, msg), GGDM_OK, msg);

    EXPECT_STATUS(ggdm_st_header_size(NULL, 2, NULL, 0, &hb, &db, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 1, &hb, &db, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_header_size(s, 2, NULL, 0, NULL, &db, msg), GGDM_ERR_ARG, msg);
    EXPECT_STATUS(ggdm_st_write_header(s, 2, kv, 2, out, sizeof out, NULL, msg), GGDM_ERR_ARG,
                  msg);
    EXPECT_STATUS(ggdm_st_write_header(s, 2, kv, 2, NULL, 0, &wr, msg),
                  GGDM_ERR_BUFFER_TOO_SMALL, msg);
    assert_true(wr > 8 && wr % 8 == 0);

    assert_int_equal(ggdm_st_data_bytes(GGDM_ST_F32, 2, big, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_data_bytes(GGDM_ST_F32, 1, NULL, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_data_bytes(GGDM_ST_F32, 0, NULL, &bytes), GGDM_OK);
    assert_true(bytes == 4);
    assert_int_equal(ggdm_st_data_bytes(GGDM_ST_F6_E3M2, 1, &big[1], &bytes), GGDM_OK);
    assert_true(bytes == 0);
    assert_int_equal(ggdm_st_data_bytes(GGDM_ST_F32, 0, NULL, NULL), GGDM_ERR_ARG);
}

/* ------------------------------------------------------------------ mutations */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Checks what an accepted file promises: entries inside the file, names decodable,
 * data tiled; F32 data loadable. */
static void check_accepted(const uint8_t *f, uint64_t len, uint64_t nt, uint64_t nm)
{
    static float out[4096];
    char name[1024];
    uint64_t i, n = 0, hdr_end = 8 + ggdm_le_load_u64(f), at = hdr_end;
    for (i = 0; i < nt; i++) {
        const ggdm_st_tensor *t = &tens[i];
        assert_true(t->name_off >= 8 && t->name_off + t->name_len <= hdr_end);
        assert_true(t->data_off == at && t->data_off + t->data_len <= len);
        at += t->data_len;
        assert_true(t->ndim >= 0 && t->ndim <= GGDM_ST_MAX_DIMS);
        assert_true(ggdm_st_dtype_bits(t->dtype) > 0);
        assert_true(ggdm_st_string(f, len, t->name_off, t->name_len, name, sizeof name, &n) !=
                    GGDM_ERR_FORMAT);
        if (t->dtype == GGDM_ST_F32 && t->count <= 4096) {
            assert_int_equal(ggdm_st_load_f32(f, len, t, out, 4096, msg), GGDM_OK);
        }
    }
    assert_true(at == len);
    for (i = 0; i < nm; i++) {
        assert_true(ggdm_st_string(f, len, metas[i].key_off, metas[i].key_len, name, sizeof name,
                                   &n) != GGDM_ERR_FORMAT);
        assert_true(ggdm_st_string(f, len, metas[i].value_off, metas[i].value_len, name,
                                   sizeof name, &n) != GGDM_ERR_FORMAT);
    }
}

/* Random damage to valid files never crashes (each mutant sits in a heap block of
 * exactly its length, so Valgrind/ASan see any read past it), only defined statuses
 * come back, errors carry a message, and what is accepted is self-consistent. */
static void test_mutations(void **state)
{
    static const struct {
        const uint8_t *bytes;
        uint64_t len;
    } seeds[] = {
        {ref_pt_f32, sizeof ref_pt_f32},
        {ref_pt_mixed, sizeof ref_pt_mixed},
        {ref_np_escapes, sizeof ref_np_escapes},
        {ref_pt_meta_only, sizeof ref_pt_meta_only},
    };
    static const char alphabet[] = "{}[]:,\"\\ 0123456789-.eEu_F3I8aBOL";
    static uint8_t work[2048];
    int iters = ggdm_test_quick() ? 3000 : 200000, it, accepted = 0;
    (void)state;
    for (it = 0; it < iters; it++) {
        size_t si = (size_t)(rnd() % (sizeof seeds / sizeof seeds[0]));
        uint64_t len = seeds[si].len, k, nmut = 1 + rnd() % 4, nt = 0, nm = 0, hlen;
        uint8_t *copy;
        ggdm_status st;
        memcpy(work, seeds[si].bytes, (size_t)len);
        for (k = 0; k < nmut && len > 0; k++) {
            uint64_t at = rnd() % len;
            switch (rnd() % 7) {
            case 0: work[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 1: work[at] = (uint8_t)rnd(); break;
            case 2: work[at] = (uint8_t)alphabet[rnd() % (sizeof alphabet - 1)]; break;
            case 3: len = at; break; /* truncation */
            case 4:                  /* insertion */
                if (len < sizeof work) {
                    memmove(work + at + 1, work + at, (size_t)(len - at));
                    work[at] = (uint8_t)alphabet[rnd() % (sizeof alphabet - 1)];
                    len++;
                }
                break;
            case 5: /* deletion */
                memmove(work + at, work + at + 1, (size_t)(len - at - 1));
                len--;
                break;
            default: /* a digit of a number changes */
                if (work[at] >= '0' && work[at] <= '9') {
                    work[at] = (uint8_t)('0' + rnd() % 10);
                }
                break;
            }
        }
        /* Usually keep the header length consistent with the JSON so that the damage
         * reaches the parser: N = position of the last '}' before the data - 7. */
        if (len >= 8 && rnd() % 4 != 0) {
            uint64_t old = ggdm_le_load_u64(work), end = old + 8 < len ? old + 8 : len, j;
            for (j = end; j > 8; j--) {
                if (work[j - 1] == '}') {
                    break;
                }
            }
            hlen = j > 8 ? j - 8 : old;
            if (rnd() % 2) {
                ggdm_le_store_u64(work, hlen);
            }
        }
        copy = (uint8_t *)malloc(len > 0 ? (size_t)len : 1);
        assert_non_null(copy);
        memcpy(copy, work, (size_t)len);
        if (rnd() % 8 == 0) {
            st = ggdm_st_parse(copy, len, NULL, 0, &nt, NULL, 0, &nm, msg);
        } else {
            st = parse(copy, len, &nt, &nm);
        }
        assert_true(st == GGDM_OK || st == GGDM_ERR_FORMAT || st == GGDM_ERR_UNSUPPORTED ||
                    st == GGDM_ERR_BUFFER_TOO_SMALL);
        if (st == GGDM_OK) {
            uint64_t nt2 = 0, nm2 = 0;
            assert_string_equal(msg, "");
            /* (Again with room, in case that was the size query of an empty file.) */
            assert_int_equal(parse(copy, len, &nt2, &nm2), GGDM_OK);
            assert_true(nt2 == nt && nm2 == nm);
            check_accepted(copy, len, nt2, nm2);
            accepted++;
        } else {
            assert_true(strlen(msg) > 0 && strlen(msg) < GGDM_ST_MSG_LEN);
            if (st == GGDM_ERR_BUFFER_TOO_SMALL) {
                assert_true(nt > 0 || nm > 0);
            }
        }
        free(copy);
    }
    /* The mutations are not all fatal: some mutants stay valid. */
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_pt_f32),
        cmocka_unit_test(test_reference_pt_mixed),
        cmocka_unit_test(test_reference_escapes),
        cmocka_unit_test(test_reference_empty),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_size_query),
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_accepted_details),
        cmocka_unit_test(test_hostile_preamble),
        cmocka_unit_test(test_find_load_errors),
        cmocka_unit_test(test_string_decode),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
