"""The two-party runtime: client (rank 0) and server (rank 1), a dealer beside the server, a Meter.

>>> from protocols.runtime import run_two_party, step
"""
from .launch import MODES, RunResult, free_port, run_two_party
from .meter import Message, Meter, PartyMeter
from .party import CLIENT, SERVER, Party, party, step

__all__ = ["run_two_party", "RunResult", "MODES", "Meter", "PartyMeter", "Message", "Party", "party", "step",
           "CLIENT", "SERVER", "free_port"]
