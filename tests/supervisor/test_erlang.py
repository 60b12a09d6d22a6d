"""Erlang B/C/A against every test vector of contact-centre.md §3, plus edge cases.

Vectors: the Call Centre Helper example used by pyworkforce (100 calls per 30 min, AHT 180 s,
80/20), the Mitan example (360 calls per 30 min, AHT 240 s), an Erlang B check, pyworkforce's
own assertions (raw 14 → 20 seats at 30 % shrinkage; with max occupancy 0.7: 15 → 22), and the
Erlang A table (100 per 30 min, AHT 3 min, patience 5 min). The Erlang A service level has no
published vector, so it is checked against its Erlang C limit and against a seeded simulation
of the same queue.
"""

from __future__ import annotations

import heapq
import math
import random

import pytest

from app.supervisor import erlang

# (A, N, P(wait), SL at t, t, ASA seconds, occupancy), AHT h
ERLANG_C = [
    # Call Centre Helper / pyworkforce: 100 calls / 30 min, h = 180 s, t = 20 s → A = 10
    (10, 12, 0.4494, 0.6402, 20, 40.4, 0.833, 180),
    (10, 13, 0.2853, 0.7956, 20, 17.1, 0.769, 180),
    (10, 14, 0.1741, 0.8884, 20, 7.8, 0.714, 180),
    (10, 15, 0.1020, 0.9415, 20, 3.7, 0.667, 180),
    # Mitan: 360 calls / 30 min, h = 240 s → A = 48
    (48, 55, 0.2387, 0.8459, 15, 8.18, 0.873, 240),
    (48, 55, 0.2387, 0.8668, 20, 8.18, 0.873, 240),
    (48, 54, 0.3013, 0.8172, 20, 12.05, 0.889, 240),
]


@pytest.mark.parametrize(("traffic", "agents", "waits", "sl", "target", "asa", "busy", "aht"), ERLANG_C)
def test_erlang_c_reproduces_the_published_vectors(traffic, agents, waits, sl, target, asa, busy, aht):
    assert erlang.wait_probability(traffic, agents) == pytest.approx(waits, abs=5e-5)
    assert erlang.service_level(traffic, agents, aht, target) == pytest.approx(sl, abs=5e-5)
    # ASA is published to 0.1 s or 0.01 s: compare at that precision.
    places = len(str(asa).split(".")[1])
    assert round(erlang.average_speed_of_answer(traffic, agents, aht), places) == asa
    assert erlang.occupancy(traffic, agents) == pytest.approx(busy, abs=5e-4)


def test_the_third_party_suite_pins_the_mitan_figures_to_more_places():
    assert erlang.wait_probability(48, 55) == pytest.approx(0.23870, abs=5e-6)
    assert erlang.service_level(48, 55, 240, 20) == pytest.approx(0.8668, abs=5e-5)
    assert erlang.average_speed_of_answer(48, 55, 240) == pytest.approx(8.184, abs=5e-4)


def test_traffic_is_calls_over_the_interval_times_handle_time():
    assert erlang.traffic_intensity(100, 1800, 180) == pytest.approx(10)
    assert erlang.traffic_intensity(360, 1800, 240) == pytest.approx(48)


def test_erlang_b_check_value():
    assert erlang.erlang_b(5, 10) == pytest.approx(0.01838, abs=5e-6)


def test_erlang_b_recursion_is_stable_where_factorials_overflow():
    # 1000! overflows a float; the recursion does not, and B stays a probability.
    blocking = erlang.erlang_b(950, 1000)
    assert 0 < blocking < 1
    assert erlang.wait_probability(950, 1000) > blocking


def test_erlang_c_equals_the_factorial_form_for_small_n():
    traffic, agents = 7.5, 9
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(agents)) + top
    assert erlang.wait_probability(traffic, agents) == pytest.approx(top / bottom, rel=1e-12)


# --- staffing ---------------------------------------------------------------------------------


def test_pyworkforce_80_20_with_30_percent_shrinkage():
    result = erlang.erlang_c_staffing(10, 180, 20, 0.8, shrinkage=0.3)
    assert (result.raw_agents, result.rostered) == (14, 20)
    assert round(result.service_level, 3) == 0.888
    assert round(result.occupancy, 3) == 0.714
    assert round(result.wait_probability, 3) == 0.174


def test_pyworkforce_max_occupancy_raises_the_answer():
    result = erlang.erlang_c_staffing(10, 180, 20, 0.8, shrinkage=0.3, max_occupancy=0.7)
    assert (result.raw_agents, result.rostered) == (15, 22)
    assert round(result.service_level, 3) == 0.941
    assert round(result.wait_probability, 3) == 0.102


def test_mitan_first_n_for_80_20_is_54():
    assert erlang.erlang_c_staffing(48, 240, 20, 0.8).raw_agents == 54
    # … and at 15 s the 54th agent is not enough: 55.
    assert erlang.erlang_c_staffing(48, 240, 15, 0.8).raw_agents == 55


def test_shrinkage_rounding_does_not_add_a_seat_for_float_noise():
    # 14 / (1 - 0.3) is 20.000000000000004 in floating point.
    assert erlang.erlang_c_staffing(10, 180, 20, 0.8, shrinkage=0.3).rostered == 20


# --- edge cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("agents", [5, 10])
def test_overloaded_erlang_c_never_answers_in_time(agents):
    # A ≥ N: the queue grows without bound.
    assert erlang.wait_probability(10, agents) == 1.0
    assert erlang.service_level(10, agents, 180, 20) == 0.0
    assert erlang.average_speed_of_answer(10, agents, 180) == math.inf
    assert erlang.occupancy(10, agents) == 1.0


def test_no_arrivals_no_waiting_no_agents_needed():
    assert erlang.wait_probability(0, 3) == 0.0
    assert erlang.service_level(0, 3, 180, 20) == 1.0
    assert erlang.average_speed_of_answer(0, 3, 180) == 0.0
    assert erlang.occupancy(0, 3) == 0.0
    assert erlang.erlang_c_staffing(0, 180, 20, 0.8).raw_agents == 0
    assert erlang.erlang_a_staffing(0, 180, 300, 20, 0.8).raw_agents == 0
    figures = erlang.erlang_a(0, 180, 300, 2)
    assert (figures.wait_probability, figures.abandon_probability, figures.asa) == (0.0, 0.0, 0.0)


def test_staffing_starts_above_the_load():
    # Fractional load just under an integer: the first candidate is ⌊A⌋ + 1.
    result = erlang.erlang_c_staffing(2.999, 180, 20, 0.0)
    assert result.raw_agents == 3


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang.erlang_b(-1, 3),
        lambda: erlang.wait_probability(2, -1),
        lambda: erlang.wait_probability(2, 2.5),
        lambda: erlang.erlang_c_staffing(10, 180, 20, 1.2),
        lambda: erlang.erlang_c_staffing(10, 180, 20, 0.8, shrinkage=1.0),
        lambda: erlang.erlang_c_staffing(10, 180, 20, 0.8, max_occupancy=0),
        lambda: erlang.erlang_a(1, 180, 0, 3),
        lambda: erlang.erlang_a_staffing(1, 180, 300, 20, 0.8, max_abandon=2),
        lambda: erlang.traffic_intensity(10, 0, 180),
    ],
)
def test_bad_inputs_are_refused(call):
    with pytest.raises(ValueError):
        call()


# --- Erlang A -----------------------------------------------------------------------------------

# 100 calls / 30 min, h = 3 min, patience 5 min (minutes throughout).
ERLANG_A = [
    (12, 0.3318, 0.0427, 0.7977, 0.2136),
    (13, 0.2258, 0.0250, 0.7500, 0.1248),
    (14, 0.1453, 0.0140, 0.7043, 0.0699),
]


@pytest.mark.parametrize(("agents", "waits", "abandons", "busy", "asa"), ERLANG_A)
def test_erlang_a_reproduces_the_table(agents, waits, abandons, busy, asa):
    figures = erlang.erlang_a(100 / 30, 3, 5, agents)
    assert figures.wait_probability == pytest.approx(waits, abs=5e-5)
    assert figures.abandon_probability == pytest.approx(abandons, abs=5e-5)
    assert figures.occupancy == pytest.approx(busy, abs=5e-5)
    assert figures.asa == pytest.approx(asa, abs=5e-5)


def test_erlang_a_staffing_for_80_20_matches_pyworkforce_docs():
    result = erlang.erlang_a_staffing(100 / 30, 3, 5, 20 / 60, 0.8)
    assert result.raw_agents == 13
    assert result.abandon_probability == pytest.approx(0.0250, abs=5e-5)


def test_erlang_a_max_abandonment_adds_agents():
    loose = erlang.erlang_a_staffing(100 / 30, 3, 5, 20 / 60, 0.0)
    strict = erlang.erlang_a_staffing(100 / 30, 3, 5, 20 / 60, 0.0, max_abandon=0.02)
    assert strict.raw_agents == 14  # 13 abandons 2.50 %, 14 abandons 1.40 %
    assert loose.raw_agents < strict.raw_agents
    assert strict.abandon_probability <= 0.02


def test_erlang_a_is_stable_when_erlang_c_is_not():
    figures = erlang.erlang_a(12 / 60, 60, 120, 10)  # A = 12 on 10 agents
    assert 0 < figures.abandon_probability < 1
    assert figures.occupancy <= 1
    assert erlang.wait_probability(12, 10) == 1.0


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    figures = erlang.erlang_a(100 / 30, 3, 1e9, 14)
    assert figures.wait_probability == pytest.approx(erlang.wait_probability(10, 14), abs=1e-6)
    assert figures.asa == pytest.approx(erlang.average_speed_of_answer(10, 14, 3), abs=1e-6)
    assert erlang.erlang_a_service_level(100 / 30, 3, 1e9, 14, 1 / 3) == pytest.approx(
        erlang.service_level(10, 14, 3, 1 / 3), abs=1e-6
    )


def test_erlang_a_service_level_at_zero_target_is_the_share_not_waiting():
    figures = erlang.erlang_a(100 / 30, 3, 5, 13)
    assert erlang.erlang_a_service_level(100 / 30, 3, 5, 13, 0) == pytest.approx(1 - figures.wait_probability)


def _simulate(arrival_rate, aht, patience, agents, target, callers, seed):
    """Event simulation of M/M/N+M, FCFS: (answered within target, abandoned) shares."""
    rng = random.Random(seed)
    clock, free = 0.0, agents
    ends: list[float] = []  # agents' busy-until times
    queue: list[tuple[float, float]] = []  # (arrival, gives up at), FCFS
    within = abandoned = 0
    next_arrival = rng.expovariate(arrival_rate)
    for _ in range(callers):
        clock = next_arrival
        next_arrival = clock + rng.expovariate(arrival_rate)
        # Serve the queue with agents who finished before this arrival.
        while ends and ends[0] <= clock:
            finished = heapq.heappop(ends)
            while queue and queue[0][1] <= finished:  # hung up before this agent freed up
                queue.pop(0)
                abandoned += 1
            if queue:
                arrived, _ = queue.pop(0)
                within += finished - arrived <= target
                heapq.heappush(ends, finished + rng.expovariate(1 / aht))
            else:
                free += 1
        if free:
            free -= 1
            within += 1
            heapq.heappush(ends, clock + rng.expovariate(1 / aht))
        else:
            queue.append((clock, clock + rng.expovariate(1 / patience)))
    return within / callers, abandoned / callers


def test_erlang_a_service_level_agrees_with_a_simulation():
    rate, aht, patience, agents, target = 100 / 30, 3, 5, 12, 1 / 3
    simulated_sl, simulated_abandon = _simulate(rate, aht, patience, agents, target, 200_000, seed=7)
    figures = erlang.erlang_a(rate, aht, patience, agents)
    computed = erlang.erlang_a_service_level(rate, aht, patience, agents, target, figures)
    # 200,000 callers: the sampling error is a few tenths of a percentage point.
    assert computed == pytest.approx(simulated_sl, abs=0.01)
    assert figures.abandon_probability == pytest.approx(simulated_abandon, abs=0.005)
