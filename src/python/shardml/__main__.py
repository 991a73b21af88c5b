"""python3 -m shardml export MODEL.h5 [--onnx F] [--torch F] [--state-dict F]
                         python3 -m shardml describe MODEL.h5

Each output is written to a temporary name and renamed when complete."""

import argparse
import os
import sys

from . import ShardmlFileError, __version__, load, to_onnx, to_torch


def _atomic_write(path, write):
    """write(tmp_path), then rename onto path: never a half file under path.
    A failure is reported under the user's path, not the temporary one."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise OSError(e.errno, e.strerror, path) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _writable(path):
    """Raises OSError naming path when its folder cannot take a new file
    (checked before any work, so that a typo costs nothing)."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise OSError(2, "its folder does not exist", path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OSError(13, "its folder is not writable", path)


def _describe(model):
    H, W, C = model.image_shape
    print(f"{model.kind} on {H}x{W}x{C} images, {model.num_classes} classes ({', '.join(model.class_names)})")
    for i, layer in enumerate(model.layers):
        n = (layer.W.size + layer.b.size) if layer.W is not None else 0
        relu = "+relu" if layer.relu else ""
        print(f"  {i}: {layer.kind}{relu} {'x'.join(map(str, layer.in_shape))} -> "
              f"{'x'.join(map(str, layer.out_shape))} ({n} parameters)")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m shardml", description=__doc__.split("\n")[0])
    ap.add_argument("--version", action="version", version=f"shardml {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write the model as ONNX and/or PyTorch files")
    ex.add_argument("model", help="model.h5, best.h5 or ckpt-*.h5 written by shardml train")
    ex.add_argument("--onnx", metavar="FILE", help="ONNX graph: input images uint8 [N,H,W,C]")
    ex.add_argument("--torch", metavar="FILE", help="TorchScript module (torch.jit.load; no shardml needed)")
    ex.add_argument("--state-dict", metavar="FILE", help="torch.save of the module's state_dict")
    de = sub.add_parser("describe", help="print the model's layers")
    de.add_argument("model")
    args = ap.parse_args(argv)
    what = f"shardml {args.command}: error:"
    outputs = [p for p in (getattr(args, "onnx", None), getattr(args, "torch", None), getattr(args, "state_dict", None)) if p]
    if args.command == "export" and not outputs:
        print(f"{what} nothing to write (--onnx, --torch or --state-dict)", file=sys.stderr)
        return 2
    try:
        for path in outputs:
            _writable(path)
        model = load(args.model)
        if args.command == "describe":
            _describe(model)
        else:
            _export(model, args)
    except ShardmlFileError as e:
        print(f"{what} {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the user's path and why
        print(f"{what} {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    return 0


def _export(model, args):
    if args.onnx:
        import onnx

        proto = to_onnx(model)
        _atomic_write(args.onnx, lambda p: onnx.save(proto, p))
        print(f"shardml: wrote {args.onnx}", file=sys.stderr)
    if args.torch or args.state_dict:
        import torch

        net = to_torch(model)
        if args.torch:
            scripted = torch.jit.script(net)
            _atomic_write(args.torch, lambda p: torch.jit.save(scripted, p))
            print(f"shardml: wrote {args.torch}", file=sys.stderr)
        if args.state_dict:
            _atomic_write(args.state_dict, lambda p: torch.save(net.state_dict(), p))
            print(f"shardml: wrote {args.state_dict}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
