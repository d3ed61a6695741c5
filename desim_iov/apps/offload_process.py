"""How a task-offloading subtask travels (apps/task_offloading.py): in slot fidelity its hops
and outcome from the closed form of Eq. 5–7, in packet fidelity a SimPy process through the
transmitters and the priority CPU. Both record what the other records, in the same order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from desim_iov.apps.offload_nodes import PROCESS
from desim_iov.apps.offload_records import Placement, Subtask
from models.energy import transmit_energy_j
from traces.schema import SUBTASK_CODE

if TYPE_CHECKING:
    from desim_iov.apps.task_offloading import TaskOffloadingApp

EDGE_VANISHED, HOP_LIMIT = SUBTASK_CODE["edge_vanished"], SUBTASK_CODE["hop_limit"]
IN_FLIGHT = SUBTASK_CODE["in_flight_at_end"]


def finish_closed_form(app: TaskOffloadingApp, st: Subtask, pl: Placement) -> None:
    """Slot fidelity: the subtask's hops and outcome from the closed form, recorded as the
    packet kernel records them: a hop when it ends, processing energy when the service
    starts, nothing that would happen after the run's end (then ``in_flight_at_end``)."""
    tp, N, end_of_run = app.topo, app.N, app.scenario.duration
    t = st.released
    src = N + st.vehicle
    for h, dst in enumerate(pl.nodes):
        dur, rate = pl.t_hops[h], pl.rates[h]
        if t + dur > end_of_run:
            app._write_subtask(st, np.nan, IN_FLIGHT)
            return
        if h == 0:
            ltype, power, energy = int(tp.access_type[dst]), app.nodes.vehicle_power(pl.levels[0]), pl.e_vehicle
            st.e_tx_vehicle = energy
        else:
            ltype, energy = int(tp.relay_type[src, dst]), pl.e_relay[h - 1]
            power = app.nodes.relay_power(src, pl.levels[h])
            app.nodes.e_tx[src] += energy
            st.e_tx_relay += energy
            st.hops = h
        app._ap_hop((st.id, h, src, dst, ltype, t, t + dur, st.bits, rate, power, energy))
        st.t_tx += dur
        t += dur
        src = dst
    if pl.dropped:
        app._write_subtask(st, np.nan, HOP_LIMIT)
        return
    z = pl.nodes[-1]
    st.proc_node, st.t_proc, st.e_proc = z, pl.t_proc, pl.e_proc
    app.nodes.e_proc[z] += pl.e_proc
    app.nodes.admitted[z] += st.cycles
    app.nodes.add_busy(z, t, t + pl.t_proc)
    done = t + pl.t_proc
    app._write_subtask(st, done if done <= end_of_run else np.nan,
                        None if done <= end_of_run else IN_FLIGHT)


def subtask_process(app: TaskOffloadingApp, st: Subtask):
    env, tp, N, v = app.env, app.topo, app.N, st.vehicle
    z = st.first_node
    tx = app.vehicle_tx[v][int(tp.is_uav[z])]
    req = tx.request()
    yield req
    try:
        if not tp.access_edge[v, z]:  # the first hop's link vanished while queued
            z = tp.fastest_access(v)
            if z < 0:
                app._write_subtask(st, np.nan, EDGE_VANISHED)
                return
            st.rerouted += 1
            st.first_node = z
        lvl = tp.access_level(v, z, st.power_level)
        rate = float(tp.access_rate_levels[lvl, v, z])
        air = tp.airtime(st.bits, rate, int(tp.access_blocklength[z]), float(tp.access_bw[z]))
        start = env.now
        st.t_queue += start - st.arrived
        yield env.timeout(air)
    finally:
        tx.release(req)
    p_v = app.nodes.vehicle_power(lvl)
    st.e_tx_vehicle = float(transmit_energy_j(p_v, st.bits, rate))
    st.t_tx += air
    app._ap_hop((st.id, 0, N + v, z, int(tp.access_type[z]), start, start + air, st.bits, rate,
                  p_v, st.e_tx_vehicle))
    visited = [z]
    while True:
        st.arrived = env.now
        rule = app.nodes.rule[z]
        if rule == PROCESS or (rule - 1) in visited:
            break
        nxt = rule - 1
        if st.hops >= app.net.max_hops:
            if app.net.at_hop_limit == "drop":
                app._write_subtask(st, np.nan, HOP_LIMIT)
                return
            break
        if not tp.relay_edge[z, nxt]:
            st.rerouted += 1  # the rule's link is gone: process here
            break
        req = app.nodes.tx[z].request()
        yield req
        try:
            if not tp.relay_edge[z, nxt]:  # gone while waiting for the transmitter
                st.rerouted += 1
                st.t_queue += env.now - st.arrived
                st.arrived = env.now
                break
            lvl = tp.relay_level_to(z, nxt, int(app.nodes.relay_level[z]))
            rate = float(tp.relay_rate_levels[lvl, z, nxt])
            air = tp.airtime(st.bits, rate, int(tp.relay_blocklength[z, nxt]), float(tp.relay_bw[z, nxt]))
            start = env.now
            st.t_queue += start - st.arrived
            yield env.timeout(air)
        finally:
            app.nodes.tx[z].release(req)
        power = app.nodes.relay_power(z, lvl)
        energy = float(transmit_energy_j(power, st.bits, rate))
        st.e_tx_relay += energy
        app.nodes.e_tx[z] += energy
        st.t_tx += air
        st.hops += 1
        app._ap_hop((st.id, st.hops, z, nxt, int(tp.relay_type[z, nxt]), start, start + air,
                      st.bits, rate, power, energy))
        visited.append(nxt)
        z = nxt
    done = env.event()
    app.nodes.cpu[z].submit(st, st.priority, st.cycles, lambda job, s, e: done.succeed(e))
    end = yield done
    app._write_subtask(st, end, None)
