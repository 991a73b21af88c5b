#!/usr/bin/python3
"""PyTorch peer of tests/bench/cnn.sh: the same network as shardml's
--net conv32x3,relu,pool2,conv64x3,relu,pool2,fc128,relu,fc10 on the same
data preparation (pixels/255 minus the mean image), SGD with momentum 0.9,
lr 0.05, L2 1e-4 (weight_decay 2e-4, as shardml's reg * sum W^2), batch 128:
  torch THREADS N      1 process, THREADS threads, N training images
  ddp N                DDP (gloo), 2 processes x 1 thread
Prints images/s over epochs 2-3 (the first warms up), evaluation excluded."""
import gzip, os, sys, tempfile, time
import numpy as np

D = "/usr/share/datasets/fashion-mnist/"
with gzip.open(D + "train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
with gzip.open(D + "train-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
x -= x.mean(0)
B, EPOCHS = 128, 2

def net():
    import torch.nn as nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

def train(n, rank=0, world=1):
    import torch
    torch.manual_seed(1)
    model = net()
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=2e-4)
    xt, yt = torch.from_numpy(x[:n]), torch.from_numpy(y[:n])
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(1)
    t = None
    for epoch in range(EPOCHS + 1):
        if epoch == 1: t = time.time()
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, B):
            i = perm[s:s + B][rank::world]
            opt.zero_grad(); loss_fn(model(xt[i]), yt[i]).backward(); opt.step()
    return EPOCHS * n / (time.time() - t)

def ddp_worker(rank, world, path, n):
    import torch, torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + path, rank=rank, world_size=world)
    rate = train(n, rank, world)
    if rank == 0: print("torch DDP gloo %d x 1 thread: %.0f img/s" % (world, rate))
    dist.destroy_process_group()

if __name__ == "__main__":
    import torch
    if sys.argv[1] == "torch":
        torch.set_num_threads(int(sys.argv[2]))
        print("torch %s thread(s): %.0f img/s" % (sys.argv[2], train(int(sys.argv[3]))))
    else:
        import torch.multiprocessing as mp
        path = tempfile.mktemp()
        mp.spawn(ddp_worker, args=(2, path, int(sys.argv[2])), nprocs=2)
