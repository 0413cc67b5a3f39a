#!/usr/bin/env python3
"""Convert the authors' reward model checkpoint (reward_model.pth: a torchvision ResNet-18 with a
1-output head) to the safetensors file `ggdm reward --reward` reads.

  reward_pth_to_safetensors.py reward_model.pth -o reward.safetensors [--key K] [--prefix P] [--trust]
  reward_pth_to_safetensors.py --self-test

The checkpoint may be the network's state_dict (torchvision's names: conv1.weight, bn1.*,
layer1.0.conv1.weight, ..., fc.weight, fc.bias), the same with a prefix ('module.' from
DataParallel, 'model.', ...: found from the name of conv1.weight, or --prefix), a training
checkpoint holding it under a key ('state_dict', 'model', 'model_state_dict', 'net', ...; --key
for a dot path), or, with --trust, a pickled nn.Module (its state_dict()). Every tensor of
torchvision's resnet18 with the checkpoint's head (fc: [outputs, 512]) is checked for presence
and shape; BatchNorm's num_batches_tracked is dropped (not a parameter); any other tensor is
an error (the checkpoint is not a ResNet-18). The output holds float32 tensors under
torchvision's names, in its state-dict order, as `ggdm reward-init` writes them.

Loading is safe by default (only tensors and containers are unpickled: pth_to_safetensors.py's
loader); --trust allows anything. Needs torch and numpy (and torchvision for the layout: the
list of names and shapes comes from torchvision.models.resnet18).

Exit status: 0 written, 1 the checkpoint does not fit (one line saying what), 2 usage error.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pth_to_safetensors import ConvertError, load_checkpoint, write_safetensors  # noqa: E402

ANCHOR = "conv1.weight"
KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "reward_model", "ema")


def expected(n_out):
    import torchvision
    m = torchvision.models.resnet18(num_classes=n_out)
    return [(k, tuple(v.shape)) for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")]


def tensors_of(obj):
    import torch
    return {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def find(obj, key, prefix):
    if key:
        for part in key.split("."):
            if not isinstance(obj, dict) or part not in obj:
                raise ConvertError("--key %s: no entry %r" % (key, part))
            obj = obj[part]
            if hasattr(obj, "state_dict") and callable(obj.state_dict):
                obj = obj.state_dict()
    elif not any(isinstance(k, str) and k.endswith(ANCHOR) for k in obj):
        for k in KEYS:
            if isinstance(obj.get(k), dict) and any(isinstance(n, str) and n.endswith(ANCHOR) for n in obj[k]):
                obj = obj[k]
                break
    sd = tensors_of(obj) if isinstance(obj, dict) else {}
    if prefix is None:
        cands = sorted(k[: -len(ANCHOR)] for k in sd if k.endswith(ANCHOR) and "layer" not in k)
        if not cands:
            raise ConvertError("no tensor named '...%s' (top-level keys: %s); name the entry with --key"
                               % (ANCHOR, ", ".join(repr(k) for k in list(obj)[:10])))
        prefix = cands[0]
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}, prefix


def convert(obj, key=None, prefix=None):
    sd, prefix = find(obj, key, prefix)
    if "fc.weight" not in sd or sd["fc.weight"].dim() != 2:
        raise ConvertError("no fc.weight [outputs, 512] under prefix %r" % prefix)
    want = expected(int(sd["fc.weight"].shape[0]))
    names = {k for k, _ in want}
    out = {}
    for k, shape in want:
        if k not in sd:
            raise ConvertError("%s%s is missing" % (prefix, k))
        if tuple(sd[k].shape) != shape:
            raise ConvertError("%s%s has shape %s, torchvision's resnet18 %s" % (prefix, k, tuple(sd[k].shape), shape))
        if not sd[k].is_floating_point():
            raise ConvertError("%s%s is %s, not floating point" % (prefix, k, sd[k].dtype))
        out[k] = sd[k].detach().float().cpu().numpy()
    extra = sorted(k for k in sd if k not in names and not k.endswith("num_batches_tracked"))
    if extra:
        raise ConvertError("%s%s is not a tensor of torchvision's resnet18 (%d such): not a ResNet-18 checkpoint"
                           % (prefix, extra[0], len(extra)))
    return out, prefix


def self_test():
    import torch
    import torchvision
    from pth_to_safetensors import read_safetensors
    fails = []

    def expect(ok, what):
        print("%s %s" % ("ok  " if ok else "FAIL", what))
        if not ok:
            fails.append(what)

    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=1).eval()
    with torch.no_grad():
        for b in m.modules():
            if isinstance(b, torch.nn.BatchNorm2d):
                b.running_mean.uniform_(-1, 1)
                b.running_var.uniform_(0.5, 2)
    ref = {k: v.numpy() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
    with tempfile.TemporaryDirectory() as d:
        forms = {
            "state_dict": m.state_dict(),
            "DataParallel prefix": {"module." + k: v for k, v in m.state_dict().items()},
            "training checkpoint": {"epoch": 7, "model_state_dict": m.state_dict(), "optimizer": {"lr": 1e-3}},
        }
        for what, obj in forms.items():
            p = os.path.join(d, "r.pth")
            torch.save(obj, p)
            out, _ = convert(load_checkpoint(p, False))
            o = os.path.join(d, "r.safetensors")
            write_safetensors(o, out, {"format": "pt", "converted_from": "reward_model.pth"})
            got, _ = read_safetensors(o)
            expect(list(got) == list(ref) and all(np.array_equal(got[k], ref[k]) for k in ref),
                   "%s: %d tensors, bit for bit, torchvision's order" % (what, len(ref)))
        bad = dict(m.state_dict())
        bad["layer9.weight"] = torch.zeros(3)
        try:
            convert(bad)
            expect(False, "an extra tensor is refused")
        except ConvertError as e:
            expect("layer9.weight" in str(e), "an extra tensor is refused: %s" % e)
        bad = dict(m.state_dict())
        del bad["layer3.1.bn2.running_var"]
        try:
            convert(bad)
            expect(False, "a missing tensor is refused")
        except ConvertError as e:
            expect("running_var" in str(e), "a missing tensor is refused: %s" % e)
    print("reward_pth_to_safetensors self-test: %d failed" % len(fails))
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", nargs="?")
    ap.add_argument("-o", "--output")
    ap.add_argument("--key")
    ap.add_argument("--prefix")
    ap.add_argument("--trust", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.checkpoint or not a.output:
        ap.print_usage(sys.stderr)
        return 2
    try:
        out, prefix = convert(load_checkpoint(a.checkpoint, a.trust), a.key, a.prefix)
    except ConvertError as e:
        print("reward_pth_to_safetensors: %s" % e, file=sys.stderr)
        return 1
    write_safetensors(a.output, out, {"format": "pt", "converted_from": os.path.basename(a.checkpoint)})
    print("%s: %d tensors (prefix %r) -> %s" % (a.checkpoint, len(out), prefix, a.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
