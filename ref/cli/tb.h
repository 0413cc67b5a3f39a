/*
 * TensorBoard scalar logs (front end; allocates and writes files).
 *
 * ggdm_tb_open creates DIR (and its parents) if missing and a new event file
 *   DIR/events.out.tfevents.<unix seconds>.<hostname>.<pid>.ggdm
 * ("...ggdm.2", ".3", ... if that name is taken), in TFRecord framing: each record is
 *   uint64 LE length | uint32 LE masked CRC32C(length bytes) | data | uint32 LE masked CRC32C(data)
 * with mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8. The first record is
 *   Event{wall_time = 1 (double), file_version = 3 ("brain.Event:2")}
 * and every ggdm_tb_scalar call appends
 *   Event{wall_time = 1, step = 2 (int64),
 *         summary = 5: Summary{value = 1: Value{tag = 1 (string), simple_value = 2 (float)}}}
 * (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto), so that
 * `tensorboard --logdir DIR` shows the scalars. Each record goes to the file with one write()
 * as soon as it is logged, so an interrupted run keeps everything logged before.
 */
#ifndef GGDM_CLI_TB_H
#define GGDM_CLI_TB_H

#include <stddef.h>
#include <stdint.h>

typedef struct ggdm_tb ggdm_tb;

/* Opens a new event file in dir (created if missing). NULL on failure; err gets "PATH: reason". */
ggdm_tb *ggdm_tb_open(const char *dir, char *err, size_t errcap);

/* Appends one scalar (value is stored as a float32, like TensorBoard's simple_value).
   Returns 0, or a nonzero ggdm_status (GGDM_ERR_ARG: null/empty tag; GGDM_ERR_IO: write failed;
   the reason is then in ggdm_tb_error). */
int ggdm_tb_scalar(ggdm_tb *tb, const char *tag, int64_t step, double value);

/* The event file's path, and the last error ("" if none). */
const char *ggdm_tb_path(const ggdm_tb *tb);
const char *ggdm_tb_error(const ggdm_tb *tb);

/* Closes the file and frees tb (NULL is fine). */
void ggdm_tb_close(ggdm_tb *tb);

/* CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF):
   ggdm_crc32c("123456789", 9) == 0xE3069283. ggdm_tb_masked_crc applies TFRecord's mask. */
uint32_t ggdm_crc32c(const uint8_t *p, size_t n);
uint32_t ggdm_tb_masked_crc(const uint8_t *p, size_t n);

#endif
