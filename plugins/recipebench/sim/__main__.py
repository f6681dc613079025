"""Run the simulated cluster in the foreground: python -m recipebench.sim [--port P] [--kubeconfig F]."""

import argparse
import time

from recipebench.sim import SimCluster

parser = argparse.ArgumentParser(prog="python -m recipebench.sim")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--kubeconfig", default=None)
parser.add_argument("--time-scale", type=float, default=None)
args = parser.parse_args()
if __name__ != "__main__":
    raise ImportError("recipebench.sim.__main__ is a program, not a module")
sim = SimCluster(args.port, args.time_scale, args.kubeconfig).start()
print(f"simulated cluster at {sim.url}; kubeconfig {sim.kubeconfig}; export RECIPEBENCH_CLUSTER={sim.kubeconfig}")
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    sim.stop()
