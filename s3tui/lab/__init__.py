"""Test lab: a throwaway local S3 server (SeaweedFS) and a fault-injecting HTTP proxy.

They live inside the package, not under tests/, so that `s3tui demo`, the test suite and the
benchmarks all share one implementation. Both are loopback-only.
"""

from s3tui.lab.faultproxy import Fault, FaultProxy, InjectedFault, Rule
from s3tui.lab.seaweed import LocalS3, find_weed

__all__ = ["Fault", "FaultProxy", "InjectedFault", "LocalS3", "Rule", "find_weed"]
