#!/usr/bin/env python3
"""mkcorpus.py: regenerates the binary seed corpora and edge-case regressions of fuzz_idx, fuzz_cifar and
fuzz_setint (input layouts in the harness headers; regressions named ok_* must load, all others must fail)."""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def idx_images(n, h, w, magic=0x803):
    return struct.pack(">IIII", magic, n, h, w) + bytes((i * 37 + 11) & 0xFF for i in range(n * h * w))


def idx_labels(labels, magic=0x801):
    return struct.pack(">II", magic, len(labels)) + bytes(labels)


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


def idx_input(images, labels):
    return struct.pack(">H", len(images)) + images + labels


def cifar_records(n, cifar100):
    out = b""
    for s in range(n):
        out += bytes([s % 20, (s * 7) % 100]) if cifar100 else bytes([s % 10])
        out += bytes((s * 31 + j) & 0xFF for j in range(3072))
    return out


def cifar_input(files, cifar100):
    flags = (1 if cifar100 else 0) | (2 if len(files) == 2 else 0)
    if len(files) == 2:
        return bytes([flags]) + struct.pack(">H", len(files[0])) + files[0] + files[1]
    return bytes([flags]) + files[0]


SET, VARY, FILE = 0, 1, 2


def setint(key, mode, literal):
    """A fuzz_setint input: the key by name, how it is given, and a raw literal (form byte 0x80)."""
    return b"\xff" + key.encode() + b"\n" + bytes([mode, 0x80]) + literal.encode()


def write(harness, name, data, kind="corpus"):
    d = os.path.join(HERE, kind, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    im, lb = idx_images(3, 4, 5), idx_labels([1, 2, 9])
    write("fuzz_idx", "plain", idx_input(im, lb))
    write("fuzz_idx", "gz_images", idx_input(gz(im), lb))
    write("fuzz_idx", "gz_both", idx_input(gz(im), gz(lb)))
    write("fuzz_idx", "gz_labels_12_classes", idx_input(idx_images(2, 2, 2), gz(idx_labels([11, 0]))))
    write("fuzz_idx", "trailing", idx_input(im + b"\0\0", lb + b"\7"))
    write("fuzz_idx", "truncated_gz", idx_input(gz(im)[:-9], lb))
    write("fuzz_idx", "huge_header", idx_input(struct.pack(">IIII", 0x803, 60000, 28, 28), idx_labels([0])))
    write("fuzz_idx", "count_mismatch", idx_input(im, idx_labels([1, 2])))
    write("fuzz_cifar", "cifar10_one", cifar_input([cifar_records(1, False)], False))
    write("fuzz_cifar", "cifar100_one", cifar_input([cifar_records(1, True)], True))
    write("fuzz_cifar", "cifar10_two_files", cifar_input([cifar_records(1, False), cifar_records(1, False)], False))
    write("fuzz_cifar", "cifar100_bad_label", cifar_input([bytes([19, 100]) + bytes(3072)], True))
    write("fuzz_cifar", "cifar10_short", cifar_input([cifar_records(1, False)[:-1]], False))

    # edge cases kept as regressions (tests/test_fuzz_regress.c)
    write("fuzz_idx", "ok_plain", idx_input(im, lb), "regress")
    write("fuzz_idx", "ok_gz_both", idx_input(gz(im), gz(lb)), "regress")
    # deflate near its best ratio (1 MiB of zeros): the gzip size bound must not refuse a real file
    write("fuzz_idx", "ok_gz_zeros_1024x1024",
          idx_input(gz(struct.pack(">IIII", 0x803, 1, 1024, 1024) + bytes(1 << 20)), idx_labels([3])), "regress")
    # a 16-byte gzip'd header announcing 47 M pixels: refused before allocating
    write("fuzz_idx", "huge_gz_header_60000x28x28",
          idx_input(gz(struct.pack(">IIII", 0x803, 60000, 28, 28)), gz(idx_labels([0] * 60000))), "regress")
    write("fuzz_idx", "huge_plain_header_60000x28x28",
          idx_input(struct.pack(">IIII", 0x803, 60000, 28, 28), idx_labels([0] * 3)), "regress")
    write("fuzz_idx", "labels_truncated", idx_input(im, lb[:-1]), "regress")
    write("fuzz_idx", "labels_truncated_gz", idx_input(im, gz(lb)[:-10]), "regress")
    write("fuzz_idx", "images_truncated_gz", idx_input(gz(im)[:-9], lb), "regress")
    write("fuzz_idx", "labels_empty", idx_input(im, b""), "regress")
    write("fuzz_cifar", "ok_cifar10_one", cifar_input([cifar_records(1, False)], False), "regress")
    write("fuzz_cifar", "ok_cifar100_two_files",
          cifar_input([cifar_records(1, True), cifar_records(2, True)], True), "regress")
    write("fuzz_cifar", "cifar100_coarse_20", cifar_input([bytes([20, 5]) + bytes(3072)], True), "regress")
    write("fuzz_cifar", "cifar10_label_10", cifar_input([bytes([10]) + bytes(3072)], False), "regress")
    write("fuzz_cifar", "cifar10_not_multiple", cifar_input([cifar_records(1, False) + b"\0"], False), "regress")
    write("fuzz_cifar", "cifar10_second_file_empty", cifar_input([cifar_records(1, False), b""], False), "regress")

    # fuzz_setint: seeds for each table and form; the regressions are issue 14's reproductions
    for key, lit in [("circuit.neurons", "100"), ("run.presentations", "-2147483649"), ("weights.seed", "0x10"),
                     ("solver.max_steps", "5000000000L"), ("train.epochs", "4294967298"),
                     ("train.lr_milestones", "2"), ("sharing.max_steps", "1e3"), ("layer.channels", "4LL"),
                     ("layer.kernel", "0x3"), ("layer.size", "2"), ("layer.outputs", "10")]:
        write("fuzz_setint", key.replace(".", "_"), setint(key, FILE if key.startswith("layer.") else SET, lit))
    for name, key, mode, lit in [
            ("presentations_below_int32_set", "run.presentations", SET, "-2147483649"),
            ("neurons_wrap32_set", "circuit.neurons", SET, "4294967306"),
            ("neurons_wrap32_vary", "circuit.neurons", VARY, "4294967298"),
            ("neurons_wrap32_file", "circuit.neurons", FILE, "4294967306"),
            ("neurons_hex_wrap32_set", "circuit.neurons", SET, "0x100000002"),
            ("seed_hex64_all_ones_set", "weights.seed", SET, "0xFFFFFFFFFFFFFFFFL"),
            ("seed_beyond_int64_file", "input.seed", FILE, "18446744073709551616"),
            ("max_steps_below_int64_set", "solver.max_steps", SET, "-9223372036854775809L"),
            ("max_steps_exponent_set", "solver.max_steps", SET, "1e3"),
            ("epochs_wrap32_set", "train.epochs", SET, "4294967298"),
            ("epochs_wrap32_file", "train.epochs", FILE, "4294967298"),
            ("milestones_wrap32_set", "train.lr_milestones", SET, "4294967299"),
            ("sharing_max_steps_wrap32_set", "sharing.max_steps", SET, "-4294967295"),
            ("layer_channels_wrap32", "layer.channels", FILE, "4294967328"),
            ("layer_kernel_even", "layer.kernel", FILE, "4"),
            ("ok_presentations_5e9_set", "run.presentations", SET, "5000000000"),
            ("ok_seed_int64_max_vary", "weights.seed", VARY, "9223372036854775807"),
            ("ok_neurons_hex_file", "circuit.neurons", FILE, "0x10"),
            ("ok_max_steps_plus_ll_set", "sharing.max_steps", SET, "+1LL"),
            ("ok_layer_kernel_hex", "layer.kernel", FILE, "0x3"),
            ("ok_layer_outputs_int64_suffix", "layer.outputs", FILE, "10L"),
            # a form feed is whitespace to libconfig: the value is 9 (a false alarm of the first harness)
            ("ok_formfeed_before_value_vary", "run.presentations", VARY, "\f9")]:
        write("fuzz_setint", name, setint(key, mode, lit), "regress")


if __name__ == "__main__":
    main()
