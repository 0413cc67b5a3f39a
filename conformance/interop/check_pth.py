#!/usr/bin/env python3
"""PyTorch checkpoints (.pth) read and written by ggdm, against PyTorch itself.

  check_pth.py GGDM_BINARY [--keep DIR] [--verbose]

Builds the authors' checkpoint exactly as their code does, for a small network (dim 8,
dim_mults 1,2, groups 8, length 8): a GaussianDiffusion-like wrapper holding the Unet1D of
unet_torch.py as `model` and the 12 schedule tables registered as float32 buffers, saved with
torch.save({"x_type": ..., "model_state_dict": wrapper.state_dict(), "epoch": 20}, path). Then:

  read        `ggdm eps -w ckpt.pth` is byte-identical to `ggdm eps -w` the same weights as
              safetensors; so for a state dict saved directly, with nn.Parameter values
              (keep_vars), with pickle protocol 4 (SHORT_BINUNICODE, MEMOIZE, FRAME,
              STACK_GLOBAL), a CUDA-style location, a byteorder record; `ggdm info` reports
              the checkpoint's x_type and epoch
  write       `ggdm convert` writes a .pth that torch.load(weights_only=True) and plain
              torch.load read, that the wrapper's load_state_dict(strict=True) accepts, with
              the same tensors (bit for bit), the schedule buffers equal to the original's
              tables, and a data.pkl byte-identical to what torch.save pickles for the same
              OrderedDict; the same weights give the same bytes under any file name; the
              round trip .pth -> safetensors -> .pth is exact
  refuse      hostile or broken files: pickles naming os.system / builtins.eval (a marker file
              proves nothing ran), REDUCE of something not allowed, a truncated zip, a
              compressed entry, a tensor past its storage, non-contiguous strides, float64
              tensors, a missing tensor, big-endian data, duplicate zip entries, the legacy
              format, and malformed archives and pickles (overlapping entries, bad CRC, 9
              dimensions, opcodes and memo keys outside the rules, nesting, bad UTF-8, ...):
              exit 1, a message naming the problem and the file, no output file

One line per check ("ok   ..." / "FAIL ..."), then "pth: N passed, M failed"; exit status 1
on any failure, 2 on usage errors. Needs torch and numpy (Debian's python3-torch).
"""
import argparse
import collections
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import unet_torch as U                      # noqa: E402
from original_schedule import NAMES, tables  # noqa: E402

CFG = {"dim": 8, "dim_mults": (1, 2), "groups": 8, "length": 8}
T_STEPS = 200


class Diffusion(torch.nn.Module):
    """What the original's GaussianDiffusion holds: the network as `model`, then the schedule
    tables registered as float32 buffers (state_dict: the buffers first, then model.*)."""

    def __init__(self, model, T=T_STEPS):
        super().__init__()
        self.model = model
        for name, table in tables(T, "cosine").items():
            self.register_buffer(name, torch.from_numpy(table))


class Checker:
    def __init__(self, ggdm, workdir, verbose):
        self.ggdm = ggdm
        self.dir = workdir
        self.verbose = verbose
        self.passed = self.failed = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def report(self, ok, msg):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s %s" % ("ok  " if ok else "FAIL", msg), flush=True)
        return ok

    def run(self, *args):
        cmd = [self.ggdm] + [str(a) for a in args]
        if self.verbose:
            print("  $ " + " ".join(cmd), flush=True)
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out"
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def guarded(self, name, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - one failed check must not stop the others
            self.report(False, "%s: %s: %s" % (name, type(e).__name__, str(e).strip().splitlines()[0] if str(e).strip()
                                                else ""))


# --------------------------------------------------------------------------------------------
# Hand-made pickles and archives, for the files torch.save never writes
# --------------------------------------------------------------------------------------------

class FakeStorage:
    """Pickled through persistent_id as ('storage', type, key, location, numel), as torch does."""

    def __init__(self, key, storage_type, numel, location="cpu"):
        self.pid = ("storage", storage_type, key, location, numel)


class FakeTensor:
    """Pickled as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def pickle_with_storages(obj, protocol=2):
    b = io.BytesIO()
    p = pickle.Pickler(b, protocol=protocol)
    p.persistent_id = lambda o: o.pid if isinstance(o, FakeStorage) else None
    p.dump(obj)
    return b.getvalue()


def zip_bytes(records, compress=False, archive="archive", duplicate=None):
    """A zip of {name: bytes} under archive/ (stored unless compress)."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, data in records.items():
            z.writestr("%s/%s" % (archive, name), data)
        if duplicate:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                z.writestr("%s/%s" % (archive, duplicate), records[duplicate])
    return b.getvalue()


def zip_records(path):
    """{name under the archive folder: bytes} of a torch.save file."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        top = names[0].split("/")[0]
        return {n[len(top) + 1:]: z.read(n) for n in names}


def f32_bits(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32)).view(np.uint32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ggdm", help="the ggdm binary (e.g. build/ggdm)")
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    if not os.path.isfile(a.ggdm):
        print("check_pth: %s is not a file" % a.ggdm, file=sys.stderr)
        return 2
    ggdm = os.path.abspath(a.ggdm)
    work = a.keep or tempfile.mkdtemp(prefix="ggdm-pth-")
    os.makedirs(work, exist_ok=True)
    ck = Checker(ggdm, work, a.verbose)
    try:
        run_checks(ck)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("pth: %d passed, %d failed" % (ck.passed, ck.failed))
    return 1 if ck.failed else 0


def run_checks(ck):
    p = ck.path
    torch.manual_seed(7)
    model = U.Unet1D(**CFG)
    U.perturb_norms(model, 8)
    wrapper = Diffusion(model)
    sd = model.state_dict()
    N, D = 3, CFG["length"]
    x = np.random.RandomState(5).randn(N, D).astype(np.float32)
    np.save(p("x.npy"), x)
    np.save(p("t.npy"), np.array([0, 77, 199], dtype=np.int64))
    U.save_safetensors(p("w.safetensors"), sd, U.config_metadata(CFG))
    ckpt = p("linear_latent_pretrain_epoch_20.pth")
    torch.save({"x_type": "linear_latent", "model_state_dict": wrapper.state_dict(), "epoch": 20}, ckpt)
    state = {}

    def eps(w, out):
        return ck.run("eps", "-w", w, "-x", p("x.npy"), "--t-file", p("t.npy"), "-o", out)

    # ---- reading ---------------------------------------------------------------------------
    def reference():
        rc, _, err = eps(p("w.safetensors"), p("eps_st.npy"))
        if rc != 0:
            raise RuntimeError("ggdm eps on the safetensors file failed: " + err.strip())
        state["eps"] = open(p("eps_st.npy"), "rb").read()
        ref = model(torch.from_numpy(x), torch.tensor([0, 77, 199])).detach().numpy()
        got = np.load(p("eps_st.npy"))
        ck.report(U.rel_err(got, ref) < 1e-5, "reference: ggdm eps from safetensors is PyTorch's within %.1e"
                  % U.rel_err(got, ref))
    ck.guarded("reference", reference)

    def same_eps(what, w):
        if "eps" not in state:
            raise RuntimeError("not run (no reference eps)")
        out = p("eps_%d.npy" % len(state))
        state[out] = 1
        rc, _, err = eps(w, out)
        if rc != 0:
            ck.report(False, "%s: ggdm eps exited %d: %s" % (what, rc, err.strip()))
            return
        same = open(out, "rb").read() == state["eps"]
        ck.report(same, "%s: eps %s" % (what, "byte-identical to the safetensors file's" if same else "DIFFERS"))

    ck.guarded("authors' checkpoint", lambda: same_eps(
        "authors' checkpoint ({x_type, model_state_dict: wrapper.state_dict(), epoch}, 12 buffers)", ckpt))

    def info():
        rc, out, err = ck.run("info", "-w", ckpt)
        ok = rc == 0 and "x_type linear_latent, epoch 20" in out and "dim 8, dim_mults 1,2" in out
        ck.report(ok, "ggdm info reads the checkpoint's x_type and epoch: %s" % (
            [ln for ln in out.splitlines() if ln.startswith("checkpoint")] if rc == 0 else err.strip()))
    ck.guarded("info", info)

    def variants():
        torch.save(sd, p("flat.pth"))
        same_eps("a state dict saved directly (torch.save(model.state_dict()))", p("flat.pth"))
        torch.save({"x_type": "linear_latent", "model_state_dict": wrapper.state_dict(keep_vars=True),
                    "iteration": 5}, p("params.pth"))
        same_eps("nn.Parameter values (torch._utils._rebuild_parameter)", p("params.pth"))
        torch.save({"x_type": "linear_latent", "model_state_dict": wrapper.state_dict(), "epoch": 20},
                   p("proto4.pth"), pickle_protocol=4)
        same_eps("pickle protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL)", p("proto4.pth"))
        rec = zip_records(ckpt)
        rec["data.pkl"] = rec["data.pkl"].replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
        rec["byteorder"] = b"little"
        open(p("cuda.pth"), "wb").write(zip_bytes(rec, archive="some_name"))
        same_eps("location 'cuda:0', a byteorder record, another archive folder, zipfile's layout",
                 p("cuda.pth"))
    ck.guarded("variants", variants)

    # ---- writing ---------------------------------------------------------------------------
    def writing():
        out = p("ggdm.pth")
        rc, _, err = ck.run("convert", "-w", p("w.safetensors"), "-o", out, "--x_type", "linear_latent",
                            "--epoch", "20")
        if rc != 0:
            raise RuntimeError("ggdm convert failed: " + err.strip())
        c = torch.load(out, weights_only=True)
        keys_ok = list(c) == ["x_type", "model_state_dict", "epoch"] and c["x_type"] == "linear_latent" \
            and c["epoch"] == 20 and isinstance(c["model_state_dict"], collections.OrderedDict)
        ck.report(keys_ok, "written: torch.load(weights_only=True) gives %s" % {k: (v if k != "model_state_dict"
                                                                               else "OrderedDict(%d)" % len(v))
                                                                           for k, v in c.items()})
        c2 = torch.load(out)
        ck.report(list(c2) == list(c), "written: plain torch.load reads it too")
        target = Diffusion(U.Unet1D(**CFG))
        target.load_state_dict(c["model_state_dict"], strict=True)
        want = wrapper.state_dict()
        got = target.state_dict()
        same = list(c["model_state_dict"]) == list(want) and all(
            got[k].dtype == torch.float32 and np.array_equal(f32_bits(got[k]), f32_bits(want[k])) for k in want)
        ck.report(same, "written: the wrapper's load_state_dict(strict=True) accepts it; %d tensors (12 buffers, "
                  "then model.*) in the original's order, bit for bit" % len(want))
        ref = tables(T_STEPS, "cosine")
        ck.report(all(np.array_equal(f32_bits(c["model_state_dict"][k].numpy()), f32_bits(ref[k])) for k in NAMES),
                  "written: the 12 schedule buffers equal the original's tables (T %d, cosine) bit for bit" % T_STEPS)
        od = collections.OrderedDict((k, v.clone()) for k, v in c["model_state_dict"].items())
        torch.save({"x_type": "linear_latent", "model_state_dict": od, "epoch": 20}, p("torch_same.pth"))
        a_pkl = zip_records(out)["data.pkl"]
        b_pkl = zip_records(p("torch_same.pth"))["data.pkl"]
        ck.report(a_pkl == b_pkl, "written: data.pkl (%d bytes) is byte-identical to torch.save's pickle of the same "
                  "OrderedDict" % len(a_pkl))
        raw = open(out, "rb").read()
        with zipfile.ZipFile(out) as z:
            bad = z.testzip()
            offs = [(i.header_offset + 30 + int.from_bytes(raw[i.header_offset + 26:i.header_offset + 28], "little")
                     + int.from_bytes(raw[i.header_offset + 28:i.header_offset + 30], "little")) % 64
                    for i in z.infolist()]
            dated = {i.date_time for i in z.infolist()}
        ck.report(bad is None and not any(offs) and dated == {(1980, 1, 1, 0, 0, 0)},
                  "written: zip CRCs good, every entry's data 64-byte aligned, fixed dates %s" % sorted(dated))
        rc, _, _ = ck.run("convert", "-w", p("w.safetensors"), "-o", p("again_other_name.pth"), "--x_type",
                          "linear_latent", "--epoch", "20")
        ck.report(rc == 0 and open(out, "rb").read() == open(p("again_other_name.pth"), "rb").read(),
                  "written: the same weights give the same bytes (another run, another file name)")
        same_eps("written file read back by ggdm", out)
        rc1, _, e1 = ck.run("convert", "-w", ckpt, "-o", p("rt.safetensors"))
        rc2, _, e2 = ck.run("convert", "-w", p("rt.safetensors"), "-o", p("rt.pth"))
        rt = torch.load(p("rt.pth"), weights_only=True) if rc1 == 0 and rc2 == 0 else None
        orig = torch.load(ckpt, weights_only=True)
        ok = rt is not None and rt["x_type"] == "linear_latent" and rt["epoch"] == 20 and \
            list(rt["model_state_dict"]) == list(orig["model_state_dict"]) and all(
                np.array_equal(f32_bits(rt["model_state_dict"][k]), f32_bits(v))
                for k, v in orig["model_state_dict"].items())
        ck.report(ok, "round trip: authors' .pth -> safetensors -> .pth keeps x_type, epoch and every tensor %s"
                  % ("" if rt is not None else (e1 + e2).strip()))
        rc, _, err = ck.run("convert", "-w", p("w.safetensors"), "-o", p("flat_ggdm.pth"), "--T", "0")
        d = torch.load(p("flat_ggdm.pth"), weights_only=True) if rc == 0 else {}
        ck.report(rc == 0 and list(d) == ["model_state_dict"] and not any(k in NAMES for k in d["model_state_dict"]),
                  "written with --T 0 and no x_type/epoch: only model_state_dict, no buffers")
    ck.guarded("writing", writing)

    # ---- refusals --------------------------------------------------------------------------
    marker = p("PWNED")

    def refuse(what, data, must_say):
        w = p("bad.pth")
        if isinstance(data, bytes):
            open(w, "wb").write(data)
        else:
            shutil.copyfile(data, w)
        out = p("eps_refused.npy")
        if os.path.exists(out):
            os.unlink(out)
        before = set(os.listdir(ck.dir))
        rc, _, err = eps(w, out)
        after = set(os.listdir(ck.dir))
        line = err.strip().splitlines()[-1] if err.strip() else ""
        ok = rc == 1 and not os.path.exists(out) and after == before and must_say in line and w in line \
            and not os.path.exists(marker)
        ck.report(ok, "refused: %s: exit %d, %s" % (what, rc, line if line else "no message"))

    rec = zip_records(ckpt)
    weights = {k: v for k, v in rec.items() if k.startswith("data/")}

    def hostile():
        evil = (b"\x80\x02cos\nsystem\nq\x00X" + len(b"touch " + marker.encode()).to_bytes(4, "little")
                + b"touch " + marker.encode() + b"\x85R.")
        refuse("a pickle calling os.system", zip_bytes(dict(rec, **{"data.pkl": evil})), "'os.system' is refused")

        class Evil:
            def __reduce__(self):
                return (eval, ("open(%r, 'w')" % marker,))
        refuse("a pickle calling builtins.eval (protocol 4: STACK_GLOBAL)", zip_bytes(dict(rec, **{
            "data.pkl": pickle.dumps({"x_type": "linear_latent", "model_state_dict": Evil()}, protocol=4)})),
            "'builtins.eval' is refused")
        refuse("a pickle calling __builtin__.eval (protocol 2: GLOBAL)", zip_bytes(dict(rec, **{
            "data.pkl": pickle.dumps({"model_state_dict": Evil()}, protocol=2)})), "'__builtin__.eval' is refused")
        refuse("a REDUCE of a string", zip_bytes(dict(rec, **{"data.pkl": b"\x80\x02X\x01\x00\x00\x00a)R."})),
               "REDUCE calls a str")
        refuse("a REDUCE of torch.FloatStorage", zip_bytes(dict(rec, **{
            "data.pkl": b"\x80\x02ctorch\nFloatStorage\n)R."})), "REDUCE calls torch.FloatStorage")
        refuse("a pickled nn.Module (torch.save(model))", zip_bytes(dict(rec, **{
            "data.pkl": pickle.dumps(torch.nn.Identity(), protocol=2)})), "is refused")
        refuse("an opcode outside the allow-list (NEWOBJ)", zip_bytes(dict(rec, **{
            "data.pkl": b"\x80\x02ccollections\nOrderedDict\n)\x81."})), "NEWOBJ")
    ck.guarded("hostile pickles", hostile)

    def broken():
        raw = open(ckpt, "rb").read()
        refuse("a truncated zip (half the file)", raw[:len(raw) // 2], "zip")
        refuse("a compressed entry (deflate)", zip_bytes(rec, compress=True), "is compressed")
        refuse("duplicate zip entries", zip_bytes(rec, duplicate="data/3"), "two zip entries")
        refuse("byteorder 'big'", zip_bytes(dict(rec, byteorder=b"big")), "big-endian")
        b = io.BytesIO()
        torch.save(sd, b, _use_new_zipfile_serialization=False)
        refuse("the legacy (pre-zip) format", b.getvalue(), "legacy format")
        one = {"model.init_conv.weight": FakeTensor(FakeStorage("0", torch.FloatStorage, 8 * 7), 1, (8, 1, 7),
                                                    (7, 7, 1))}
        refuse("a tensor past its storage (offset 1, 56 of 56 elements)", zip_bytes({
            "data.pkl": pickle_with_storages(collections.OrderedDict(one)), "data/0": bytes(4 * 56),
            "version": b"3\n"}), "outside its storage")
        one = {"model.init_conv.weight": FakeTensor(FakeStorage("0", torch.FloatStorage, 8 * 7), 0, (8, 1, 7),
                                                    (1, 1, 8))}
        refuse("non-contiguous strides (1, 1, 8)", zip_bytes({
            "data.pkl": pickle_with_storages(collections.OrderedDict(one)), "data/0": bytes(4 * 56),
            "version": b"3\n"}), "not contiguous")
        bad = collections.OrderedDict(sd)
        bad["time_mlp.1.weight"] = sd["time_mlp.1.weight"].t().contiguous().t()
        torch.save(bad, p("strided.pth"))
        refuse("a transposed (non-contiguous) tensor saved by torch", p("strided.pth"), "not contiguous")
        torch.save({"x_type": "linear_latent", "model_state_dict": Diffusion(U.Unet1D(**CFG).double()).state_dict(),
                    "epoch": 20}, p("f64.pth"))
        refuse("float64 tensors", p("f64.pth"), "float64 (torch.DoubleStorage)")
        miss = wrapper.state_dict()
        del miss["model.mid_attn.fn.norm.g"]
        torch.save({"x_type": "linear_latent", "model_state_dict": miss, "epoch": 20}, p("missing.pth"))
        refuse("a missing tensor", p("missing.pth"), "missing tensor model.mid_attn.fn.norm.g")
        extra = wrapper.state_dict()
        extra["model.extra.weight"] = torch.zeros(3)
        torch.save({"model_state_dict": extra}, p("extra.pth"))
        refuse("an unexpected tensor", p("extra.pth"), "unexpected tensor 'model.extra.weight'")
        short = dict(rec)
        k0 = sorted(weights)[0]
        short[k0] = short[k0][:-4]
        refuse("a storage entry 4 bytes short", zip_bytes(short), "needs")
        refuse("no data.pkl", zip_bytes({k: v for k, v in rec.items() if k != "data.pkl"}), "data.pkl")
    ck.guarded("broken files", broken)

    def malformed():
        def with_pkl(pkl, **extra):
            return zip_bytes(dict(rec, **dict({"data.pkl": pkl}, **extra)))
        refuse("a tensor of 9 dimensions", zip_bytes({
            "data.pkl": pickle_with_storages(collections.OrderedDict(
                [("t", FakeTensor(FakeStorage("0", torch.FloatStorage, 1), 0, (1,) * 9, (1,) * 9))])),
            "data/0": bytes(4), "version": b"3\n"}), "9 dimensions")
        refuse("a storage with no entry in the archive", zip_bytes({
            "data.pkl": pickle_with_storages(collections.OrderedDict(
                [("t", FakeTensor(FakeStorage("7", torch.FloatStorage, 1), 0, (1,), (1,)))])),
            "version": b"3\n"}), "has no zip entry 'archive/data/7'")
        refuse("a TorchScript archive (constants.pkl)", zip_bytes(dict(rec, **{"constants.pkl": b"\x80\x02)."})),
               "TorchScript")
        refuse("an unexpected entry", zip_bytes(dict(rec, **{"notes.txt": b"hello"})), "unexpected zip entry")
        raw = bytearray(zip_bytes(rec))
        k = raw.rfind(b"PK\x05\x06")
        cd_off = int.from_bytes(raw[k + 16:k + 20], "little")
        n0 = 46 + int.from_bytes(raw[cd_off + 28:cd_off + 30], "little")
        first = raw[cd_off:cd_off + n0]
        for o in (8, 10):                                  # one more entry
            raw[k + o:k + o + 2] = (int.from_bytes(raw[k + o:k + o + 2], "little") + 1).to_bytes(2, "little")
        raw[k + 12:k + 16] = (int.from_bytes(raw[k + 12:k + 16], "little") + n0).to_bytes(4, "little")
        refuse("two directory entries on one local header (overlap)", bytes(raw[:k]) + bytes(first) + bytes(raw[k:]),
               "overlap")
        b2 = io.BytesIO()
        with zipfile.ZipFile(b2, "w") as z:
            for name, data in rec.items():
                z.writestr("archive/" + name, data)
            z.writestr("elsewhere/x", b"")
        refuse("an entry outside the archive's folder", b2.getvalue(), "outside the archive's folder")
        k0 = sorted(weights)[0]
        good = zip_bytes(rec)
        j = good.find(rec[k0])                             # one data bit flipped, the recorded CRC kept
        refuse("a storage whose bytes fail the CRC-32", good[:j] + bytes([good[j] ^ 1]) + good[j + 1:], "CRC-32")
        refuse("bytes after STOP", with_pkl(rec["data.pkl"] + b"N"), "bytes after STOP")
        refuse("a memo key never set", with_pkl(b"\x80\x02h\x05."), "memo key 5 was never set")
        refuse("a pickle that does not start with PROTO", with_pkl(b"}."), "does not start with PROTO")
        refuse("a list as a dict key", with_pkl(b"\x80\x02}]Ns."), "unhashable")
        refuse("a key twice in the checkpoint's dict", with_pkl(
            b"\x80\x02}(X\x01\x00\x00\x00aNX\x01\x00\x00\x00aNu."), "has the key 'a' twice")
        refuse("lists nested 40 deep", with_pkl(b"\x80\x02" + b"]" * 40 + b"a" * 39 + b"."), "nested deeper")
        refuse("a string that is not UTF-8", with_pkl(b"\x80\x02X\x01\x00\x00\x00\xff."), "not valid UTF-8")
        refuse("an opcode of protocol 0 (INST)", with_pkl(b"\x80\x02(icollections\nOrderedDict\n."), "INST")
        refuse("BUILD on a list", with_pkl(b"\x80\x02]}b."), "BUILD on a list")
        refuse("a pickle that is not a dict", with_pkl(b"\x80\x02]."), "holds a list, not a dict")
        refuse("no state dict in the checkpoint's dict", with_pkl(
            b"\x80\x02}X\x05\x00\x00\x00epochK\x14s."), "no state dict")
    ck.guarded("malformed files", malformed)
    ck.report(not os.path.exists(marker), "nothing in any pickle was executed (no marker file %s)"
              % os.path.basename(marker))


if __name__ == "__main__":
    sys.exit(main())
