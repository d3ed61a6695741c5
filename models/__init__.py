"""Physics of the simulator: pure, vectorised numpy models in SI units (no SimPy, nothing of ours).

Modules: ``geo`` (distances, local frame), ``pathloss`` (models by name in ``MODELS``),
``fading`` (Rayleigh/Rician, arrays, Doppler, CSI error), ``rate`` (Shannon and
finite-blocklength rates in ``RATES``, unit conversions), ``compute`` (computing and hop
latencies, CPU model, priorities), ``energy`` (energy, QoS), ``mobility`` (trajectories,
random waypoint, patrols).  Equation-to-code map: docs/MODEL.md.
"""
