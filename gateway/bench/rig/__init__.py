"""The rig the benchmarks and the tests share: a local mosquitto, a cloud-side checker,
the virtual store and the gateway as processes, signed commands, label campaigns.

Part of the package so that ``scripts/bench`` runs on an installed box too; the tests
import it from here.
"""
