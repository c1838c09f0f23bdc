import os
import sys

import matplotlib

matplotlib.use("Agg")
# Kernels started by the notebook tests inherit this: set iteration order is fixed.
os.environ.setdefault("PYTHONHASHSEED", "0")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
