#!/usr/bin/env python3
"""Reference Paillier timings with python-paillier (phe 1.5) on gmpy2/GMP.

Measures, single-threaded, at 2048 and 3072 bits:
  keygen        phe.generate_paillier_keypair(n_length=bits)      (median seconds)
  encrypt       PaillierPublicKey.encrypt(int)                     (ops/s)
  decrypt       PaillierPrivateKey.decrypt(EncryptedNumber)        (ops/s, CRT over p^2, q^2)
  sub           EncryptedNumber.__sub__                            (ops/s)
  powmod        raw gmpy2.powmod(r, n, n^2)                        (ops/s; = zero-proof verify)

Each ops/s figure is the median over ROUNDS rounds of >= MIN_SECONDS each.

Setup:  python3 -m venv /tmp/venv-paillier && /tmp/venv-paillier/bin/pip install phe==1.5.0 gmpy2
Run:    taskset -c 1 /tmp/venv-paillier/bin/python bench/paillier_reference.py [--json out.json]
"""

import argparse
import json
import random
import statistics
import time

import gmpy2
import phe

ROUNDS = 5
MIN_SECONDS = 1.0
KEYGEN_RUNS = 9


def ops_per_second(fn):
    """Median ops/s over ROUNDS rounds, each running fn until MIN_SECONDS pass."""
    rates = []
    for _ in range(ROUNDS):
        count = 0
        start = time.perf_counter()
        while True:
            fn()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= MIN_SECONDS:
                break
        rates.append(count / elapsed)
    return statistics.median(rates)


def keygen_seconds(bits):
    times = []
    for _ in range(KEYGEN_RUNS):
        start = time.perf_counter()
        phe.generate_paillier_keypair(n_length=bits)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def measure(bits):
    pk, sk = phe.generate_paillier_keypair(n_length=bits)
    assert pk.n.bit_length() == bits
    rnd = random.SystemRandom()
    a = pk.encrypt(123456)
    b = pk.encrypt(123456)
    assert sk.decrypt(a) == 123456 and sk.decrypt(a - b) == 0
    n = gmpy2.mpz(pk.n)
    nn = n * n
    r = gmpy2.mpz(rnd.randrange(1, pk.n))
    out = {"bits": bits}
    out["keygen_s"], out["keygen_min_s"], out["keygen_max_s"] = keygen_seconds(bits)
    out["encrypt"] = ops_per_second(lambda: pk.encrypt(987654321))
    out["decrypt"] = ops_per_second(lambda: sk.decrypt(a))
    out["sub"] = ops_per_second(lambda: a - b)
    out["powmod"] = ops_per_second(lambda: gmpy2.powmod(r, n, nn))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--bits", type=int, nargs="*", default=[2048, 3072])
    args = parser.parse_args()
    print(f"phe {phe.__version__}, gmpy2 {gmpy2.version()}, {gmpy2.mp_version()}")
    results = []
    for bits in args.bits:
        res = measure(bits)
        results.append(res)
        print(
            f"{bits}: keygen {res['keygen_s']:.3f} s (median of {KEYGEN_RUNS}, "
            f"{res['keygen_min_s']:.3f}-{res['keygen_max_s']:.3f}), "
            f"encrypt {res['encrypt']:.1f}/s, decrypt {res['decrypt']:.1f}/s, "
            f"sub {res['sub']:.0f}/s, powmod r^n mod n^2 {res['powmod']:.1f}/s"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
