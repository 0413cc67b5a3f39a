/* Common includes for ggdm's CMocka unit tests. */
#ifndef GGDM_TEST_H
#define GGDM_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* 1 when GGDM_TEST_QUICK is set (reduced sweeps, e.g. under Valgrind). */
static inline int ggdm_test_quick(void)
{
    const char *q = getenv("GGDM_TEST_QUICK");
    return q && q[0] && q[0] != '0';
}
#endif
