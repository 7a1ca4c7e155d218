"""The platform's public port: the shared front (`tiers_payant/front/`) with the fault plan's
transport mode, like Toxiproxy in front of a service; see that module."""
from tiers_payant.front import MODES, FaultProxy, Front

__all__ = ["MODES", "FaultProxy", "Front"]
