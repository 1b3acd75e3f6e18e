"""The local network and what runs on it: anvil and node processes (`network`), contract
deployment from the compiled artifacts (`deployment`), the demo (`demo`), the benchmark (`bench`)
and the economics simulator (`econ`). Development and measurement only: neither the node nor the
client imports it.
"""
