/*
 * pool.h - the front end's thread pool: a ggdm_exec (ggdm/exec.h) backed by POSIX threads.
 * The library stays single-threaded and allocation-free; only the front end owns threads.
 */
#ifndef GGDM_CLI_POOL_H
#define GGDM_CLI_POOL_H
#include "ggdm/exec.h"

typedef struct ggdm_pool ggdm_pool;

/* The cores this process may use (1 if unknown): its CPU affinity (taskset, Slurm, cpusets),
 * capped by its cgroup's CPU quota and by SLURM_CPUS_PER_TASK; the default of --threads. */
int ggdm_pool_cores(void);

/* Starts nthreads - 1 workers (the calling thread is the last one). NULL on failure. */
ggdm_pool *ggdm_pool_create(int nthreads);
void ggdm_pool_destroy(ggdm_pool *p);

/* The executor that runs tasks on the pool (NULL pool: a serial executor). */
ggdm_exec ggdm_pool_exec(ggdm_pool *p);

/*
 * The process's executor for --threads N (N <= 0: every core), created on first use and
 * kept until exit; a later call with another N replaces it. Never NULL.
 */
const ggdm_exec *ggdm_cli_exec(int threads);

/* Makes every later ggdm_cli_exec run the score network on this backend (ggdm/backend.h;
 * NULL: the reference's CPU code), with one host thread. build/ggdm-cuda sets its own. */
struct ggdm_backend;
void ggdm_cli_set_backend(const struct ggdm_backend *be);

#endif
