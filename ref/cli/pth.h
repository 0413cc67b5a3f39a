/*
 * Front end: PyTorch checkpoints (.pth, torch.save's zip format, torch >= 1.6), read and
 * written without Python and without executing anything.
 *
 * Reading is restricted and validating (docs/formats.md, "PyTorch checkpoints"):
 *   - the zip archive: stored entries only, every offset and size inside the file, no two
 *     entries overlapping, no duplicate names, CRC-32 of every entry that is used, all
 *     entries in one top folder ARCHIVE/ holding data.pkl, version, maybe byteorder
 *     ("little"; "big" is refused), data/KEY (raw little-endian storages) and .data/...;
 *   - data.pkl through a small pickle interpreter: only the opcodes a state dict needs and
 *     only the globals collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 *     torch._utils._rebuild_parameter and the torch.*Storage types; anything else is refused
 *     with a message naming it. Limits on objects, memo, stack, nesting and string lengths.
 *   - the result: a dict whose values are tensors (a state dict saved directly), or a dict
 *     holding one under "model_state_dict" beside scalars (the original's checkpoints:
 *     x_type, epoch or iteration). Every tensor of the state dict: a string key, a known
 *     storage type, at most 8 dimensions, contiguous (C-order strides, as torch's
 *     is_contiguous), inside its storage, whose entry holds exactly numel * itemsize bytes.
 *
 * Writing produces what torch.save writes for {"x_type": ..., "model_state_dict":
 * OrderedDict(...), "epoch": N} (pickle protocol 2, 64-byte aligned stored entries), with
 * fixed zip dates and archive name, so the same tensors always give the same bytes.
 */
#ifndef GGDM_CLI_PTH_H
#define GGDM_CLI_PTH_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/status.h"

#define GGDM_PTH_MAX_DIMS 8
/* Interpreter limits: a state dict of the paper's network needs about 3,000 objects. */
#define GGDM_PTH_MAX_OBJECTS (1u << 20) /* objects created by the pickle */
#define GGDM_PTH_MAX_MEMO (1u << 20)    /* memo index (BINPUT/LONG_BINPUT/MEMOIZE) */
#define GGDM_PTH_MAX_STACK (1u << 16)   /* values on the stack at once */
#define GGDM_PTH_MAX_MARKS 64           /* open MARKs */
#define GGDM_PTH_MAX_DEPTH 32           /* nesting of containers */
#define GGDM_PTH_MAX_STR 65536          /* bytes of one string or bytes object */
#define GGDM_PTH_MAX_ITEMS (1u << 22)   /* tuple items and list/dict entries, all together */
#define GGDM_PTH_MAX_ENTRIES (1u << 20) /* zip entries */

/* Storage types (torch.<Name>Storage), in this order; only F32 is loaded. */
typedef enum ggdm_pth_dtype {
    GGDM_PTH_F32 = 0,
    GGDM_PTH_F64,
    GGDM_PTH_F16,
    GGDM_PTH_BF16,
    GGDM_PTH_C64,
    GGDM_PTH_C128,
    GGDM_PTH_I64,
    GGDM_PTH_I32,
    GGDM_PTH_I16,
    GGDM_PTH_I8,
    GGDM_PTH_U8,
    GGDM_PTH_BOOL,
    GGDM_PTH_QI8,
    GGDM_PTH_QU8,
    GGDM_PTH_QI32,
    GGDM_PTH_QU4X2,
    GGDM_PTH_QU2X4,
    GGDM_PTH_UNTYPED, /* torch.UntypedStorage: bytes */
    GGDM_PTH_NUM_DTYPES
} ggdm_pth_dtype;

/* "float32", "float64", ... and the storage class, "FloatStorage", ...; NULL if unknown. */
const char *ggdm_pth_dtype_name(int dtype);
const char *ggdm_pth_storage_name(int dtype);
/* Bytes per element (0 if unknown). */
unsigned ggdm_pth_itemsize(int dtype);

/* One tensor of the state dict. */
typedef struct ggdm_pth_tensor {
    char *name;           /* its key, NUL-terminated UTF-8 (owned by the ggdm_pth) */
    int dtype;            /* ggdm_pth_dtype */
    int ndim;
    uint64_t shape[GGDM_PTH_MAX_DIMS];
    uint64_t stride[GGDM_PTH_MAX_DIMS];
    uint64_t count;       /* elements: the product of the shape */
    char *storage_key;    /* "0", "1", ...: the entry ARCHIVE/data/KEY (owned) */
    uint64_t storage_offset; /* in elements */
    uint64_t storage_numel;
    uint64_t data_off;    /* the tensor's bytes: file[data_off .. data_off + data_len), C order, */
    uint64_t data_len;    /*   little-endian; data_len = count * itemsize */
    int requires_grad;
    int parameter;        /* 1 if pickled as an nn.Parameter (_rebuild_parameter) */
} ggdm_pth_tensor;

/* A top-level entry beside the state dict (x_type, epoch, ...). */
typedef enum ggdm_pth_kind {
    GGDM_PTH_NONE = 0,
    GGDM_PTH_BOOL_V,
    GGDM_PTH_INT,
    GGDM_PTH_FLOAT,
    GGDM_PTH_STR,
    GGDM_PTH_OTHER /* a container, bytes, ...: listed, not interpreted */
} ggdm_pth_kind;

typedef struct ggdm_pth_entry {
    char *key; /* NUL-terminated (owned) */
    int kind;  /* ggdm_pth_kind */
    long long i; /* INT, BOOL_V */
    double f;    /* FLOAT */
    char *s;     /* STR, NUL-terminated (owned; a string holding NUL is cut there) */
} ggdm_pth_entry;

typedef struct ggdm_pth {
    char *archive;   /* the top folder of the archive */
    char *state_key; /* "model_state_dict", or NULL when the file is the state dict itself */
    int version;     /* the archive's version record */
    ggdm_pth_tensor *tensors; /* in the state dict's order */
    size_t n_tensors;
    ggdm_pth_entry *entries;  /* the other top-level entries, in order (none without a wrapper) */
    size_t n_entries;
} ggdm_pth;

/* 1 if the bytes start like a zip archive (PK\3\4), as every torch.save file does. */
int ggdm_pth_is_zip(const uint8_t *file, uint64_t len);

/*
 * Validates a whole checkpoint held in memory and describes it in *out (free with
 * ggdm_pth_free, also after a failure). GGDM_ERR_FORMAT for a malformed file,
 * GGDM_ERR_UNSUPPORTED for a refused one (compressed entries, a global or opcode outside the
 * allow-list, big-endian data, more than 8 dimensions, non-contiguous tensors ...),
 * GGDM_ERR_IO when out of memory; msg gets one line naming the item ("pth: ...").
 */
ggdm_status ggdm_pth_parse(const uint8_t *file, uint64_t len, ggdm_pth *out, char *msg, size_t msgcap);
void ggdm_pth_free(ggdm_pth *p);

/* The top-level entry called key, or NULL. */
const ggdm_pth_entry *ggdm_pth_find_entry(const ggdm_pth *p, const char *key);

/* Converts a float32 tensor's data (out_count >= t->count); GGDM_ERR_UNSUPPORTED for another dtype. */
ggdm_status ggdm_pth_load_f32(const uint8_t *file, uint64_t len, const ggdm_pth_tensor *t, float *out,
                              uint64_t out_count, char *msg, size_t msgcap);

/* ------------------------------------------------------------------ writing */

/* A float32 tensor to write (C order, host floats). */
typedef struct ggdm_pth_wtensor {
    const char *name;
    int ndim;
    uint64_t shape[GGDM_PTH_MAX_DIMS];
    const float *data;
} ggdm_pth_wtensor;

typedef enum ggdm_pth_wkind {
    GGDM_PTH_W_STR = 0, /* s */
    GGDM_PTH_W_INT,     /* i */
    GGDM_PTH_W_STATE    /* the state dict (an OrderedDict of the tensors) goes here */
} ggdm_pth_wkind;

typedef struct ggdm_pth_wentry {
    const char *key;
    int kind; /* ggdm_pth_wkind */
    const char *s;
    long long i;
} ggdm_pth_wentry;

/*
 * Serialises a checkpoint into a malloc'd buffer (*out, *out_len). With n_entries == 0 the
 * file is the state dict itself (torch.save(model.state_dict())); otherwise a dict of the
 * entries in their order, exactly one of them GGDM_PTH_W_STATE. Storages are "0", "1", ...
 * in tensor order, every tensor its own. Names, keys and strings must be valid UTF-8 and
 * unique; at most 8 dimensions; the archive must stay below 4 GiB (no zip64).
 * GGDM_ERR_ARG / GGDM_ERR_UNSUPPORTED with msg, GGDM_ERR_IO when out of memory.
 */
ggdm_status ggdm_pth_write(const ggdm_pth_wentry *entries, size_t n_entries, const ggdm_pth_wtensor *tensors,
                           size_t n_tensors, uint8_t **out, uint64_t *out_len, char *msg, size_t msgcap);

#endif
