#!/bin/sh
# The image experiment's pieces against the real libraries (issue 14; docs/sd.md, "Checked
# against"): the tokenizer, the weights layer, the new ops, and the four networks, each against
# transformers / diffusers / torchvision / torch built from the same configurations and random
# weights, within float32 rounding. Run by ci/test.sh; the venv is ci/setup-py.sh's (make deps).
#
#   sh ci/interop.sh [BUILD]        every check; exit 1 when one fails
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
GGDM=$BUILD/ggdm
VENV=${GGDM_VENV:-$(pwd)/.venv-interop}
PY=$VENV/bin/python
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ ! -x "$PY" ]; then
    echo "ci/interop.sh: no interop venv at $VENV: run sh ci/setup-py.sh (make deps does)" >&2
    exit 1
fi
rc=0
check() { # name, command...
    name=$1; shift
    start=$(date +%s)
    if "$@"; then
        echo "  ok: $name ($(( $(date +%s) - start )) s)"
    else
        echo "  FAILED: $name ($(( $(date +%s) - start )) s)"
        rc=1
    fi
}
check "CLIP tokenizer vs transformers' CLIPTokenizer" "$PY" ci/interop/tokenizer_vs_transformers.py --ggdm "$GGDM"
check "weights: F16/BF16 and sharded files vs torch and safetensors" "$PY" ci/interop/weights_vs_torch.py "$BUILD"
check "CONV 2-D and UPSAMPLE 2-D vs F.conv2d, F.interpolate (float64)" "$PY" ref/tests/py/check_conv2d.py --build "$BUILD"
check "RESIZE vs F.interpolate(bilinear, antialias)" "$PY" ci/interop/resize_vs_torch.py --ggdm "$GGDM"
check "ATTN (causal, recompute, cross) vs torch" "$PY" ci/interop/attn_vs_torch.py
check "text encoder vs transformers' CLIPTextModel" "$PY" ci/interop/clip_vs_transformers.py "$GGDM"
check "UNet vs diffusers' UNet2DConditionModel (forward, input VJP)" "$PY" ci/interop/unet2d_vs_diffusers.py "$GGDM"
check "UNet traces: ggdm unet2d --trace vs diffusers (trace_diffusers.py), a planted change localised by ggdm diff" "$PY" ci/interop/trace_diffusers.py --self-test "$GGDM"
check "VAE decoder vs diffusers' AutoencoderKL (forward, input VJP)" "$PY" ci/interop/vae_vs_diffusers.py --ggdm "$GGDM"
check "PNDM and DDIM schedulers vs diffusers (alphas_cumprod, timesteps, latents of 50/10/2/1 steps)" "$PY" ci/interop/sd_sched_vs_diffusers.py --ggdm "$GGDM"
check "sd-init folders vs diffusers' StableDiffusionPipeline (tiny: f32, f16, sharded)" "$PY" ci/interop/sd_init_vs_diffusers.py "$GGDM"
check "the authors' reward_model.pth converter (ref/tools/reward_pth_to_safetensors.py --self-test)" "$PY" ref/tools/reward_pth_to_safetensors.py --self-test
check "PNG writer, image_to_u8, Pillow's resize, grid, random.sample vs Pillow / diffusers / Python" "$PY" ci/interop/png_vs_pil.py --ggdm "$GGDM"
check "ggdm image vs the authors' guided loop (diffusers + torchvision, same latents; float64 reference)" "$PY" ci/interop/image_vs_authors.py "$GGDM"
check "ggdm image as a user runs it: killed at its file operations and resumed, SIGINT, locks, prompts, hostile input, the files" "$PY" ci/interop/image_runs.py "$GGDM"
check "reward model vs torchvision's resnet18 (forward, input VJP)" "$PY" ci/interop/reward_vs_torchvision.py "$GGDM"
exit $rc
