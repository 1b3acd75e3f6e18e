"""A job of your own: any program that reads /job (this directory, read-only) and writes its
result to $TES_OUTPUT_DIR. No network; seed in $SEED; one thread per math library."""

import hashlib
import json
import os
import random

seed = int(os.environ["SEED"])
random.seed(seed)
words = open("words.txt").read().split()
sample = sorted(random.sample(words, 5))
out = os.environ["TES_OUTPUT_DIR"]
with open(os.path.join(out, "result.json"), "w") as f:
    json.dump({"seed": seed, "sample": sample, "digest": hashlib.sha256(" ".join(sample).encode()).hexdigest()},
              f, sort_keys=True, indent=2)
print("wrote", sample)
