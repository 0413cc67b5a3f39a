/*
 * pool.c - a fork-join thread pool for ggdm_exec: the caller and nthreads - 1 persistent
 * workers take task indices from a shared counter until none is left. Which thread runs
 * a task never changes what it computes (exec.h), so results do not depend on the count.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* sched_getaffinity */
#include <sched.h>
#else
#define _POSIX_C_SOURCE 200809L
#endif
#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ggdm_pool {
    pthread_mutex_t mu;
    pthread_cond_t go;   /* a new job, or shutdown */
    pthread_cond_t done; /* the last task of the job finished */
    pthread_t *th;
    int nthreads, nstarted;
    unsigned long job;   /* job generation */
    int shutdown;
    ggdm_task_fn task;
    void *arg;
    int ntasks, next, finished;
};

/* The CPU quota of this process's cgroup (v2: "max 100000" or "200000 100000"), rounded up; 0 if none. */
static int cgroup_quota(void)
{
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    char q[32];
    long period = 0;
    int n = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%31s %ld", q, &period) == 2 && strcmp(q, "max") != 0 && period > 0) {
        long quota = strtol(q, NULL, 10);
        if (quota > 0)
            n = (int)((quota + period - 1) / period);
    }
    fclose(f);
    return n;
}

int ggdm_pool_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    const char *slurm = getenv("SLURM_CPUS_PER_TASK");
    int q;
#if defined(__linux__) && defined(CPU_COUNT)
    {
        cpu_set_t set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1)
            n = CPU_COUNT(&set); /* taskset, Slurm's task/affinity, containers' cpusets */
    }
#endif
    q = cgroup_quota(); /* docker --cpus, Kubernetes limits */
    if (q >= 1 && q < n)
        n = q;
    if (slurm && *slurm) { /* Slurm without an affinity plugin */
        long s = strtol(slurm, NULL, 10);
        if (s >= 1 && s < n)
            n = s;
    }
    return n >= 1 && n <= 4096 ? (int)n : 1;
}

/* Takes and runs tasks of the current job until none is left (called with mu held). */
static void drain(ggdm_pool *p)
{
    while (p->next < p->ntasks) {
        int i = p->next++;
        ggdm_task_fn task = p->task;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        task(arg, i);
        pthread_mutex_lock(&p->mu);
        if (++p->finished == p->ntasks)
            pthread_cond_broadcast(&p->done);
    }
}

static void *worker(void *vp)
{
    ggdm_pool *p = vp;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->shutdown && p->job == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->shutdown)
            break;
        seen = p->job;
        drain(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_run(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    ggdm_pool *p = ctx;
    pthread_mutex_lock(&p->mu);
    p->task = task;
    p->arg = arg;
    p->ntasks = ntasks;
    p->next = 0;
    p->finished = 0;
    p->job++;
    pthread_cond_broadcast(&p->go);
    drain(p);
    while (p->finished < p->ntasks)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

ggdm_pool *ggdm_pool_create(int nthreads)
{
    ggdm_pool *p;
    int i;
    if (nthreads < 1)
        return NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nthreads = nthreads;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (nthreads > 1) {
        p->th = calloc((size_t)nthreads - 1, sizeof *p->th);
        if (!p->th) {
            ggdm_pool_destroy(p);
            return NULL;
        }
        for (i = 0; i < nthreads - 1; i++) {
            if (pthread_create(&p->th[i], NULL, worker, p) != 0) {
                ggdm_pool_destroy(p);
                return NULL;
            }
            p->nstarted++;
        }
    }
    return p;
}

void ggdm_pool_destroy(ggdm_pool *p)
{
    int i;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->shutdown = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->nstarted; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

ggdm_exec ggdm_pool_exec(ggdm_pool *p)
{
    ggdm_exec e;
    memset(&e, 0, sizeof e);
    e.run = p && p->nthreads > 1 ? pool_run : NULL;
    e.ctx = p;
    e.nthreads = p ? p->nthreads : 1;
    return e;
}

/* ------------------------------------------------------------------ the front end's pool */

static ggdm_pool *cli_pool;
static ggdm_exec cli_ex;
static int cli_threads, cli_atexit;
static const struct ggdm_backend *cli_backend;

void ggdm_cli_set_backend(const struct ggdm_backend *be)
{
    cli_backend = be;
    cli_threads = 0; /* the next ggdm_cli_exec builds the executor again */
}

static void cli_pool_free(void)
{
    ggdm_pool_destroy(cli_pool);
    cli_pool = NULL;
    cli_threads = 0;
}

const ggdm_exec *ggdm_cli_exec(int threads)
{
    if (cli_backend)
        threads = 1; /* the backend (a GPU) runs the network; host threads would only contend */
    if (threads <= 0)
        threads = ggdm_pool_cores();
    if (cli_threads == threads)
        return &cli_ex;
    cli_pool_free();
    cli_pool = threads > 1 ? ggdm_pool_create(threads) : NULL;
    if (threads > 1 && !cli_pool)
        fprintf(stderr, "ggdm: could not start %d threads; running on one\n", threads);
    cli_ex = ggdm_pool_exec(cli_pool);
    cli_ex.unet = cli_backend;
    cli_threads = threads;
    if (!cli_atexit && atexit(cli_pool_free) == 0)
        cli_atexit = 1;
    return &cli_ex;
}
