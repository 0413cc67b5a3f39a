/*
 * ggdm/status.h - the one status enum of the library. No library function exits,
 * asserts or prints; each returns one of these.
 */
#ifndef GGDM_STATUS_H
#define GGDM_STATUS_H

typedef enum ggdm_status {
    GGDM_OK = 0,
    GGDM_ERR_ARG = 1,           /* an argument is invalid (null, out of range, impossible shape) */
    GGDM_ERR_BUFFER_TOO_SMALL = 2, /* caller's buffer or workspace is smaller than required */
    GGDM_ERR_NONFINITE = 3,     /* NaN or infinity where finite values are required */
    GGDM_ERR_UNSUPPORTED = 4,   /* valid but not supported (dtype, version, option) */
    GGDM_ERR_FORMAT = 5,        /* malformed input data (file header, manifest, ...) */
    GGDM_ERR_IO = 6,            /* reading or writing a file failed (front ends only) */
    GGDM_ERR_MISMATCH = 7,      /* a result differs from the expected one (conformance) */
    GGDM_ERR_DEVICE = 8         /* the backend that ran the network (a GPU's) failed; it says why */
} ggdm_status;

/* A short, static, human-readable name of a status ("buffer too small", ...). */
const char *ggdm_status_str(ggdm_status s);

#endif /* GGDM_STATUS_H */
