/*
 * From the VAE decoder's float output to the authors' PNG grids, bit-exact to diffusers and
 * Pillow 9.4: the float -> uint8 conversion of diffusers' decode_latents + numpy_to_pil, Pillow's
 * default Image.resize (bicubic with antialiasing, fixed-point), and the authors'
 * concat_from_2d_list grid. No libm: every step is exact integer or IEEE float/double arithmetic
 * (the build's -ffp-contract=off keeps a*b+c two roundings, as Pillow's x86-64 build has them).
 */
#ifndef GGDM_CLI_IMAGE_H
#define GGDM_CLI_IMAGE_H

#include <stdint.h>

/*
 * x: [3, H, W] channel-first float32 (the VAE's output, about [-1, 1]); rgb: H*W*3 interleaved.
 * Per value, in float32 as diffusers and NumPy compute it: t = x / 2 + 0.5 (two roundings),
 * clamped to [0, 1] (torch.clamp), v = t * 255, rounded half to even (np.round), as uint8.
 * +inf -> 255, -inf -> 0. NaN -> 0 (defined here: torch.clamp keeps NaN and NumPy's
 * astype(uint8) of NaN is undefined behaviour, 0 on x86-64 in practice).
 */
void ggdm_image_to_u8(const float *x, int H, int W, uint8_t *rgb);

/*
 * Pillow's Image.resize((dw, dh)) of an RGB image with its default filter (Pillow 9.4:
 * BICUBIC, a = -0.5, support 2 widened by the scale when downsampling), bit-exact: double
 * coefficients normalised per output pixel, converted to fixed point with 22 fractional bits,
 * a horizontal pass (only over the rows the vertical pass reads) then a vertical pass, each
 * rounding and clipping to uint8. src: sh rows of sw RGB pixels; dst: dh rows of dw.
 * Same size: a copy. 0, or -1 for a size <= 0 or > 2^24, or out of memory (dst untouched).
 */
int ggdm_image_resize_pil(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

/*
 * The authors' concat_from_2d_list: tiles[i * cols + j] (th rows of tw RGB pixels) pasted at
 * x = tw * j, y = th * i of out, (cols * tw) x (rows * th) RGB (row-major, top row first).
 */
void ggdm_image_grid(const uint8_t *const *tiles, int rows, int cols, int tw, int th, uint8_t *out);

#endif
