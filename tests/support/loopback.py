"""A net under the network tests: every socket connect to an address other than 127.0.0.0/8 or
::1 is refused in the process before it is made, so a test of the address guard can never send
a packet off the machine, even when the code under test gets it wrong."""

from __future__ import annotations

import ipaddress
import socket

import pytest


class OffMachineConnect(ConnectionRefusedError):
    """A connect to a non-loopback address, stopped before any packet was sent."""


def refuse_off_machine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Install the net; returns the list of refused addresses (to assert on)."""
    refused: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def loopback(address) -> bool:
        if not isinstance(address, tuple):
            return True  # a Unix socket
        try:
            return ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
        except ValueError:
            return False  # a name: the code under test should have resolved and checked it

    def connect(self, address):
        if not loopback(address):
            refused.append(str(address[0]))
            raise OffMachineConnect(f"test net: refused a connect to {address[0]}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not loopback(address):
            refused.append(str(address[0]))
            raise OffMachineConnect(f"test net: refused a connect to {address[0]}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return refused
