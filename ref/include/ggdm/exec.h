/*
 * ggdm/exec.h - how the library runs independent work in parallel without owning threads.
 *
 * The library never creates threads, allocates or blocks. A caller that wants parallelism
 * passes an executor: a function that runs task(arg, i) once for every i in [0, ntasks), in
 * any order and on any threads, and returns when all have finished. The library only hands it
 * tasks that write disjoint outputs and whose every output element is computed by the same
 * chain whatever runs it, so results are bit-identical for every executor and thread count
 * (docs/performance.md, "Threads"). NULL, or an executor with run == NULL, runs the tasks in
 * order on the calling thread.
 *
 * The executor struct holds the run function and its context, a thread count the library
 * uses only to choose how many tasks to cut work into (never what a task computes), and
 * optionally the backend that runs the score network (a GPU driver's). The front end's
 * pthread pool (ref/cli/pool.c) provides one. Zero-initialise it before filling it in.
 */
#ifndef GGDM_EXEC_H
#define GGDM_EXEC_H

typedef void (*ggdm_task_fn)(void *arg, int task);

struct ggdm_backend;

typedef struct ggdm_exec {
    void (*run)(void *ctx, ggdm_task_fn task, void *arg, int ntasks);
    void *ctx;
    int nthreads; /* >= 1: a hint for how finely to split work */
    /* where the score network's layers run (ggdm/backend.h); NULL: the reference's CPU code */
    const struct ggdm_backend *unet;
    /* Set by the library on its own copy, never by callers (leave 0): the parameter arrays
     * are unchanged since the previous network call made through this executor within the
     * same library call (the steps of one ggdm_sample_ex), so a device backend may use its
     * copy without verifying it (ggdm/backend.h, params(): changed < 0). */
    int params_unchanged;
} ggdm_exec;

/* Runs task(arg, 0 .. ntasks-1) with ex (serially when ex or ex->run is NULL). */
static inline void ggdm_exec_run(const ggdm_exec *ex, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    if (ntasks <= 0)
        return;
    if (ex && ex->run && ntasks > 1) {
        ex->run(ex->ctx, task, arg, ntasks);
        return;
    }
    for (i = 0; i < ntasks; i++)
        task(arg, i);
}

/* The executor's thread count (1 for NULL). */
static inline int ggdm_exec_threads(const ggdm_exec *ex)
{
    return ex && ex->run && ex->nthreads > 1 ? ex->nthreads : 1;
}

#endif /* GGDM_EXEC_H */
