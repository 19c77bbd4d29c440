#!/usr/bin/env python
"""Pack CIFAR-10 into a few lossless NumPy shards (each under --max-mb) and a manifest, for a machine that receives
files in parts (``recipes.data.shards``). The output folder is a CIFAR-10 ``--data-dir`` for every command.

    python scripts/pack_cifar10_shards.py --data-dir ../shared/data/cifar10 --output-dir staging/cifar10

Prints one line per shard (file, split, images, MB) and the total.
"""
import sys

from recipes import cli


def main(argv=None):
    parser = cli.make_parser(__doc__, datasets=("cifar10",), output_dir="staging/cifar10", seed=False)
    parser.add_argument("--cache-dir", default=None, help="decoded-data cache (default: $RECIPES_CACHE or "
                                                         "~/.cache/keras_recipes)")
    parser.add_argument("--max-mb", type=float, default=55.0, help="largest shard in MB (10^6 bytes; default 55)")
    args = cli.parse_args(parser, argv)
    from augment.checks import check_number

    with cli.flag_errors(parser):
        check_number("--max-mb", args.max_mb, 0.01)
    folder = cli.data_folder(parser, args, "cifar10")
    from recipes.data.cifar10 import CLASS_NAMES, load_cifar10
    from recipes.data.shards import pack_shards

    train, test = load_cifar10(folder, cache_dir=args.cache_dir)
    manifest = pack_shards(train, test, args.output_dir, max_bytes=int(args.max_mb * 1e6), classes=CLASS_NAMES)
    for s in manifest["shards"]:
        print(f"{args.output_dir}/{s['file']}: {s['split']}, {s['count']} images, {s['bytes'] / 1e6:.1f} MB")
    total = sum(s["bytes"] for s in manifest["shards"])
    print(f"{len(manifest['shards'])} shards, {total / 1e6:.1f} MB, manifest {args.output_dir}/cifar10-shards.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
