#include "ggdm/status.h"

const char *ggdm_status_str(ggdm_status s)
{
    switch (s) {
    case GGDM_OK: return "ok";
    case GGDM_ERR_ARG: return "invalid argument";
    case GGDM_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case GGDM_ERR_NONFINITE: return "non-finite value";
    case GGDM_ERR_UNSUPPORTED: return "unsupported";
    case GGDM_ERR_FORMAT: return "malformed input";
    case GGDM_ERR_IO: return "input/output error";
    case GGDM_ERR_MISMATCH: return "result mismatch";
    case GGDM_ERR_DEVICE: return "device failure";
    }
    return "unknown status";
}
