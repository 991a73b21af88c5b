#!/usr/bin/python3
"""Peers for the training benchmark, same machine, same run, same data
preparation (pixels/255 minus the mean image), same minibatch SGD with
momentum, batch 128:
  numpy MODEL THREADS       softmax or svm in numpy (BLAS matmuls)
  torch THREADS             PyTorch 784-256-10 MLP, 1 process
  ddp                       PyTorch DDP (gloo), 2 processes x 1 thread
  adam EPOCHS               PyTorch 784-256-10 MLP with torch.optim.Adam (lr 1e-3, L2 as shardml's
                            reg 1e-4, the step schedule 0.95 per epoch), EPOCHS epochs: test accuracy
Prints images/s over the timed epochs (evaluation excluded), or the accuracy."""
import gzip, os, sys, time
import numpy as np

D = "/usr/share/datasets/fashion-mnist/"
def idx(name, off):
    with gzip.open(D + name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=off)
x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
y = idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
x -= x.mean(0)
N, B, EPOCHS = len(x), 128, 2

def numpy_linear(model):
    rng = np.random.default_rng(1)
    W = (1e-3 * rng.standard_normal((10, 784))).astype(np.float32); b = np.zeros(10, np.float32)
    vW, vb = np.zeros_like(W), np.zeros_like(b)
    lr, mu, reg = (0.02 if model == "softmax" else 0.01), 0.9, 1e-4
    t = time.time()
    for epoch in range(EPOCHS):
        perm = rng.permutation(N)
        for s in range(0, N, B):
            i = perm[s:s + B]; xb, yb = x[i], y[i]; n = len(i)
            sc = xb @ W.T + b
            if model == "softmax":
                sc -= sc.max(1, keepdims=True); p = np.exp(sc); p /= p.sum(1, keepdims=True)
                p[np.arange(n), yb] -= 1; d = p
            else:
                m = sc - sc[np.arange(n), yb][:, None] + 1; m[np.arange(n), yb] = 0
                d = (m > 0).astype(np.float32); d[np.arange(n), yb] = -d.sum(1)
            gW = d.T @ xb / n + 2 * reg * W; gb = d.sum(0) / n
            vW = mu * vW - lr * gW; W += vW; vb = mu * vb - lr * gb; b += vb
    return EPOCHS * N / (time.time() - t)

def torch_mlp(rank=0, world=1):
    import torch
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=2e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(1)
    t = None
    for epoch in range(EPOCHS + 1):  # the first epoch warms up
        if epoch == 1: t = time.time()
        perm = torch.randperm(N, generator=g)
        for s in range(0, N, B):
            i = perm[s:s + B][rank::world]  # this process's part of the global batch
            opt.zero_grad(); loss_fn(net(xt[i]), yt[i]).backward(); opt.step()
    return EPOCHS * N / (time.time() - t)

def ddp_worker(rank, world, path):
    import torch, torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + path, rank=rank, world_size=world)
    rate = torch_mlp(rank, world)
    if rank == 0: print("torch DDP gloo %d x 1 thread: %.0f img/s" % (world, rate))
    dist.destroy_process_group()

def torch_adam(epochs):
    import torch
    torch.manual_seed(1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    with gzip.open(D + "t10k-images-idx3-ubyte.gz") as f:
        xs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
    with gzip.open(D + "t10k-labels-idx1-ubyte.gz") as f:
        ys = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    xs = torch.from_numpy(xs - (idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255).mean(0))
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    # shardml's reg 1e-4 adds 1e-4 * sum W^2 to the loss: a gradient of 2e-4 W on the weights only.
    decay = [p for n, p in net.named_parameters() if n.endswith("weight")]
    rest = [p for n, p in net.named_parameters() if not n.endswith("weight")]
    opt = torch.optim.Adam([{"params": decay, "weight_decay": 2e-4}, {"params": rest}], lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.95)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(1)
    t = time.time()
    for epoch in range(epochs):
        perm = torch.randperm(N, generator=g)
        for s in range(0, N, B):
            i = perm[s:s + B]
            opt.zero_grad(); loss_fn(net(xt[i]), yt[i]).backward(); opt.step()
        sched.step()
    with torch.no_grad():
        acc = (net(xs).argmax(1).numpy() == ys).mean()
    return acc, time.time() - t

if __name__ == "__main__":
    if sys.argv[1] == "numpy":
        print("numpy %s %s threads: %.0f img/s" % (sys.argv[2], sys.argv[3], numpy_linear(sys.argv[2])))
    elif sys.argv[1] == "torch":
        import torch
        torch.set_num_threads(int(sys.argv[2]))
        print("torch %s threads: %.0f img/s" % (sys.argv[2], torch_mlp()))
    elif sys.argv[1] == "adam":
        import torch
        torch.set_num_threads(2)
        acc, secs = torch_adam(int(sys.argv[2]))
        print("torch Adam %s epochs: test accuracy %.4f (%.1f s, 2 threads)" % (sys.argv[2], acc, secs))
    else:
        import tempfile, torch.multiprocessing as mp
        path = tempfile.mktemp(prefix="sml-ddp-")
        mp.spawn(ddp_worker, args=(2, path), nprocs=2)
