/*
 * fuzz_npz: the stored-.npz reader (ggdm/npy.h) on arbitrary bytes, as an archive.
 *
 * Properties checked besides "no crash, no UB":
 *   - ggdm_npz_count agrees with walking the central directory (iter_init/next);
 *   - every member returned lies inside the archive (name, data), before the central
 *     directory, with indices 0, 1, 2, ...;
 *   - ggdm_npz_find by a member's own name finds it (or reports it compressed,
 *     encrypted, duplicated or corrupt), never another member's bytes, and its CRC-32
 *     matches ggdm_crc32 of those bytes; a name absent from the archive is GGDM_ERR_ARG;
 *   - a found member is then parsed as a .npy file (exact-size copy);
 *   - CRC-32 is chainable: crc(crc(0, a), b) == crc(0, a || b).
 */
#include "fuzz.h"
#include "ggdm/npy.h"

#define MAX_MEMBERS 4096

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[GGDM_NPY_MSG_LEN];
    ggdm_npz_iter it;
    ggdm_npz_member m, *members;
    ggdm_status st_count, st;
    uint64_t count = 0, walked = 0, i;
    int has = 0;

    /* CRC-32 chaining, on the raw bytes */
    {
        size_t cut = size ? (size_t)data[0] % (size + 1) : 0;
        uint32_t a = ggdm_crc32(0, data, size);
        uint32_t b = ggdm_crc32(ggdm_crc32(0, data, cut), data + cut, size - cut);
        FUZZ_CHECK(a == b);
    }

    msg[0] = 'x';
    st_count = ggdm_npz_count(data, size, &count, msg);
    FUZZ_CHECK(fuzz_msg_ok(msg, sizeof msg));
    FUZZ_CHECK((st_count == GGDM_OK) == (msg[0] == 0));
    FUZZ_CHECK(st_count == GGDM_OK || st_count == GGDM_ERR_FORMAT || st_count == GGDM_ERR_UNSUPPORTED);

    st = ggdm_npz_iter_init(data, size, &it, msg);
    FUZZ_CHECK(fuzz_msg_ok(msg, sizeof msg));
    if (st != GGDM_OK) {
        FUZZ_CHECK(st_count == st);
        return 0;
    }
    FUZZ_CHECK(it.cd_offset <= size && it.cd_size <= size - it.cd_offset);
    /* 1. walk the whole central directory */
    members = (ggdm_npz_member *)malloc(sizeof *members * (size_t)((it.entries < MAX_MEMBERS ? it.entries : MAX_MEMBERS) + 1));
    FUZZ_CHECK(members != NULL);
    for (;;) {
        st = ggdm_npz_iter_next(data, size, &it, &m, &has, msg);
        FUZZ_CHECK(fuzz_msg_ok(msg, sizeof msg));
        if (st != GGDM_OK) {
            FUZZ_CHECK(st_count == st);
            free(members);
            return 0;
        }
        if (!has)
            break;
        FUZZ_CHECK(m.index == walked);
        FUZZ_CHECK(m.name_offset <= size && m.name_len <= size - m.name_offset);
        FUZZ_CHECK(m.data_offset <= size && m.data_len <= size - m.data_offset);
        FUZZ_CHECK(m.data_offset + m.data_len <= it.cd_offset);
        FUZZ_CHECK(walked < it.entries); /* never more members than the end record says */
        if (walked == MAX_MEMBERS) {
            free(members);
            return 0; /* enough work for one input */
        }
        members[walked++] = m;
    }
    FUZZ_CHECK(st_count == GGDM_OK);
    FUZZ_CHECK(count == walked && count == it.entries);

    /* 2. the directory is valid: look every member up by its own name */
    for (i = 0; i < walked; i++) {
        uint64_t off = 0, len = 0;
        char name[300];
        m = members[i];
        if (m.name_len == 0 || m.name_len >= sizeof name || memchr(data + m.name_offset, 0, (size_t)m.name_len))
            continue;
        memcpy(name, data + m.name_offset, (size_t)m.name_len);
        name[m.name_len] = 0;
        st = ggdm_npz_find(data, size, name, &off, &len, msg);
        FUZZ_CHECK(fuzz_msg_ok(msg, sizeof msg));
        if (st == GGDM_OK) {
            ggdm_npy_info info;
            uint8_t *copy;
            FUZZ_CHECK(off <= size && len <= size - off);
            /* an exact name match wins, and names are unique: it is this member */
            FUZZ_CHECK(off == m.data_offset && len == m.data_len);
            FUZZ_CHECK(ggdm_crc32(0, data + off, len) == m.crc32);
            FUZZ_CHECK(m.method == 0 && !(m.flags & 1u));
            copy = (uint8_t *)malloc(len ? (size_t)len : 1);
            FUZZ_CHECK(copy != NULL);
            if (len)
                memcpy(copy, data + off, (size_t)len);
            st = ggdm_npy_parse(copy, len, len, &info);
            FUZZ_CHECK(fuzz_msg_ok(info.msg, sizeof info.msg));
            if (st == GGDM_OK)
                FUZZ_CHECK(info.header_bytes + info.data_bytes == len);
            free(copy);
        } else {
            /* the member exists: compressed/encrypted, or a duplicate name or a bad CRC */
            FUZZ_CHECKF(st == GGDM_ERR_UNSUPPORTED || st == GGDM_ERR_FORMAT, "status %d: %s", (int)st, msg);
            if (st == GGDM_ERR_UNSUPPORTED)
                FUZZ_CHECKF(m.method != 0 || (m.flags & 1u), "%s", msg);
        }
    }
    free(members);

    /* a name that no member can have (zip names are at most 65535 bytes) */
    {
        static char absent[70001];
        uint64_t off = 0, len = 0;
        if (!absent[0])
            memset(absent, 'q', sizeof absent - 1);
        st = ggdm_npz_find(data, size, absent, &off, &len, msg);
        FUZZ_CHECK(st == GGDM_ERR_ARG);
        FUZZ_CHECK(msg[0] != 0 && fuzz_msg_ok(msg, sizeof msg));
    }
    return 0;
}
