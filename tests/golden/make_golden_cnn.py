#!/usr/bin/python3
"""Writes cnn_step.txt and cnn_bn_step.txt: one training step of a small
convolutional network computed by PyTorch (torch.nn.functional, float64),
for test_golden.c to compare shardml's layers and optimizers with:

  cnn_step.txt: conv4x3,relu,pool2,conv6x3s2p0,relu,avgpool2,fc7,relu,fc5
  cnn_bn_step.txt: the same with batch normalization after the ReLU of
    each convolution and of the hidden fc (conv4x3,relu,bn,...), its
    running statistics drawn at random so that evaluation reads them
    (after a ReLU, so that no parameter's gradient is zero in exact
    arithmetic: a bias right before a batch normalization has none, and
    Adam would turn two roundings of zero into opposite full steps);
  on 3 x 11 x 10 images (NCHW), batch 3 (8 with batch normalization): padding, stride 2, odd sizes that
  pooling crops, max and average pooling, a flatten into fc;
  - the scores (evaluation: batch normalization with the running
    statistics) and the loss (training: the batch's statistics; mean
    cross-entropy + reg * sum of squared weights, biases, gamma and beta
    not regularised, as shardml's --reg);
  - the gradient of that loss (zero for the running statistics);
  - the parameters after two steps of torch.optim.SGD (momentum 0.9; from
    zero velocity it equals shardml's CS231n form) and of torch.optim.Adam,
    the gradient recomputed at the new parameters for the second step, and
    the running statistics after each step (momentum 0.1, unbiased
    variance).

Parameter names are shardml's: W<i>/b<i> for the i-th layer of the spec,
gamma<i>/beta<i>/mean<i>/var<i> for a batch normalization (ReLUs belong
to their layer). Run from this directory (PyTorch from
jobs/setup-bench.sh):  /usr/bin/python3 make_golden_cnn.py
"""
import re

import torch
import torch.nn.functional as F

CH, H, W, C = 3, 11, 10, 5
REG = 0.01
dt = torch.float64


def golden(path, net, bn, B, seed=20261206):
    """Writes path; False (nothing written) if the drawn problem is unfit."""
    torch.manual_seed(seed)
    x = torch.randn(B, CH, H, W, dtype=dt)
    y = torch.tensor([4, 0, 2]) if B == 3 else torch.randint(0, C, (B,))
    # shardml's layer indices: conv 0, pool 1, conv 2, avgpool 3, fc 4, fc 5;
    # with batch normalization: conv 0, bn 1, pool 2, conv 3, bn 4, avgpool 5, fc 6, bn 7, fc 8
    ids = dict(conv1=0, conv2=3, fc1=6, fc2=8) if bn else dict(conv1=0, conv2=2, fc1=4, fc2=5)
    shapes = {f"W{ids['conv1']}": (4, CH, 3, 3), f"b{ids['conv1']}": (4,),
              f"W{ids['conv2']}": (6, 4, 3, 3), f"b{ids['conv2']}": (6,),
              f"W{ids['fc1']}": (7, 6), f"b{ids['fc1']}": (7,), f"W{ids['fc2']}": (C, 7), f"b{ids['fc2']}": (C,)}
    init = {k: torch.randn(*s, dtype=dt) * (0.4 if k[0] == "W" else 0.1) for k, s in shapes.items()}
    norms = {1: 4, 4: 6, 7: 7} if bn else {}  # layer -> channels
    stats0 = {}
    names = list(shapes)
    for l, c in norms.items():
        init[f"gamma{l}"] = 1 + 0.2 * torch.randn(c, dtype=dt)
        init[f"beta{l}"] = 0.1 * torch.randn(c, dtype=dt)
        stats0[f"mean{l}"] = 0.1 * torch.randn(c, dtype=dt)
        stats0[f"var{l}"] = 1 + 0.3 * torch.rand(c, dtype=dt)
        names += [f"gamma{l}", f"beta{l}"]
    # the order of shardml's parameter table (the file's order does not matter)
    order = sorted(list(init) + list(stats0), key=lambda k: (int(re.sub(r"\D", "", k)), k))

    def norm(a, p, st, l, training):
        if l not in norms:
            return a
        return F.batch_norm(a, st[f"mean{l}"], st[f"var{l}"], p[f"gamma{l}"], p[f"beta{l}"], training=training,
                            momentum=0.1, eps=1e-5)

    def scores_of(p, st, training):
        a = F.conv2d(x, p[f"W{ids['conv1']}"], p[f"b{ids['conv1']}"], stride=1, padding=1)  # 4 x 11 x 10
        a = F.max_pool2d(norm(F.relu(a), p, st, 1, training), 2)                           # 4 x 5 x 5
        a = F.conv2d(a, p[f"W{ids['conv2']}"], p[f"b{ids['conv2']}"], stride=2, padding=0)  # 6 x 2 x 2
        a = F.avg_pool2d(norm(F.relu(a), p, st, 4, training), 2)                            # 6 x 1 x 1
        a = F.linear(a.flatten(1), p[f"W{ids['fc1']}"], p[f"b{ids['fc1']}"])                # 7
        a = norm(F.relu(a), p, st, 7, training)
        return F.linear(a, p[f"W{ids['fc2']}"], p[f"b{ids['fc2']}"])                        # 5

    def loss_of(p, st):
        s = scores_of(p, st, True)
        return s, F.cross_entropy(s, y) + REG * sum((p[k] ** 2).sum() for k in p if k[0] == "W")

    def leaf(p):
        return {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}

    def fresh_stats():
        return {k: v.clone() for k, v in stats0.items()}

    out = []

    def put(name, t):
        v = t.detach().flatten().tolist()
        out.append(f"{name} {len(v)} " + " ".join(repr(float(e)) for e in v))

    p = leaf(init)
    _, loss = loss_of(p, fresh_stats())
    loss.backward()
    put("dims", torch.tensor([B, CH, H, W, C], dtype=dt))
    put("reg", torch.tensor([REG], dtype=dt))
    put("x", x)
    put("y", y.to(dt))
    for k in order:
        put(k, init[k] if k in init else stats0[k])
    put("scores", scores_of(init, fresh_stats(), False))
    put("loss", loss.reshape(1))
    for k in order:
        put("grad_" + k, p[k].grad if k in p else torch.zeros_like(stats0[k]))
        # An entry zero in exact arithmetic but not in float (all of a batch normalization's
        # inputs past a ReLU: their bias's gradient sums dx over the batch)
        # holds two roundings of zero, which Adam turns into unrelated steps.
        if bn and k in p and not ((p[k].grad == 0) | (p[k].grad.abs() > 1e-12)).all():
            return False

    for name, make, hyper in (("sgd", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), [0.05, 0.9, 0, 0, 0, 0]),
                              ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
                               [0.01, 0, 0.9, 0.999, 1e-8, 0])):
        p, st = leaf(init), fresh_stats()
        opt = make([p[k] for k in names])
        put(name + "_hyper", torch.tensor(hyper, dtype=dt))
        for t in (1, 2):
            opt.zero_grad()
            loss_of(p, st)[1].backward()  # the forward pass moves the running statistics
            opt.step()
            for k in order:
                put(f"{name}_t{t}_{k}", p[k] if k in p else st[k])

    with open(path, "w") as f:
        f.write(f"# generated by make_golden_cnn.py (torch {torch.__version__}, float64)\n")
        f.write(f"net {net}\n")
        f.write("\n".join(out) + "\n")
    return True


golden("cnn_step.txt", "conv4x3,relu,pool2,conv6x3s2p0,relu,avgpool2,fc7,relu,fc5", False, 3)
# batch 8: statistics of 3 values per channel (fc7's) amplify float32
# rounding by their tiny spread (1e-4 relative, seen), not a formula
seed = 20261206
while not golden("cnn_bn_step.txt", "conv4x3,relu,bn,pool2,conv6x3s2p0,relu,bn,avgpool2,fc7,relu,bn,fc5", True, 8, seed):
    seed += 1
