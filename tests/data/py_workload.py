"""Allocation-heavy, threaded Python workload for the LD_PRELOAD tests:
dict/list/str/bytes churn in several threads. Its output depends only on
the fixed seeds, so a run under tunalloc must print exactly what a plain
run prints."""
import hashlib
import random
import sys
import threading

THREADS = 4
ROUNDS = 60


def churn(seed, results):
    """Builds and tears down containers of mixed sizes; returns a digest of
    everything it built, so any corrupted object changes the output."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    keep = []
    for rnd in range(ROUNDS):
        table = {}
        for i in range(2000):
            key = "k%d-%d-%s" % (rnd, i, "x" * rng.randrange(0, 40))
            table[key] = [rng.random() for _ in range(rng.randrange(0, 8))]
        words = sorted(table)
        text = "|".join(words)
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 3000)))
        big = bytearray(rng.randrange(100_000, 2_000_000))
        big[-1] = rnd & 0xFF
        digest.update(text.encode())
        digest.update(blob)
        digest.update(bytes([big[-1], len(big) & 0xFF]))
        keep.append(text[: rng.randrange(0, 500)])
        if len(keep) > 20:
            del keep[: rng.randrange(1, 10)]
        del table, words, big
    digest.update("".join(keep).encode())
    results[seed] = digest.hexdigest()


def main():
    results = {}
    threads = [threading.Thread(target=churn, args=(seed, results))
               for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(THREADS):
        print(seed, results[seed])
    return 0 if len(results) == THREADS else 1


if __name__ == "__main__":
    sys.exit(main())
