"""Queueing formulas for staffing: Erlang B, Erlang C and Erlang A (pure Python).

Units are the caller's, as long as they agree: with ``aht`` and ``target`` in seconds, ASA comes
back in seconds and ``arrival_rate`` must be per second. ``traffic`` (A, Erlangs) is
arrival rate × AHT. See ``docs/supervision.md`` and ``contact-centre.md`` §3 for the formulas
and the test vectors they reproduce (tests/supervisor/test_erlang.py).

* **Erlang B** by the stable recursion ``B(0)=1; B(n) = A·B(n−1) / (n + A·B(n−1))`` (no
  factorials, no overflow at hundreds of agents).
* **Erlang C** (M/M/N, callers wait for ever): ``C = N·B / (N − A·(1 − B))``,
  ``SL(t) = 1 − C·e^{−(N−A)·t/h}``, ``ASA = C·h / (N − A)``. When ``A ≥ N`` the queue grows
  without bound: every caller waits, nobody is answered within any target, ASA is infinite.
* **Erlang A** (M/M/N+M, callers hang up after an exponential patience with mean ``patience``):
  the birth–death chain (birth λ, death ``min(n,N)·μ + max(n−N,0)·θ``) solved numerically; it
  is stable at any load. Its service level is the share of *all* callers answered within ``t``
  (those who hang up first count as not answered), from the tagged caller's absorbing chain
  solved by uniformization.

Staffing picks the smallest ``N`` meeting the target, then raises it to respect a maximum
occupancy (``N = ⌈A / max_occupancy⌉``), then rosters ``⌈N / (1 − shrinkage)⌉`` seats, as
pyworkforce does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A float product such as 14 / 0.7 = 20.000000000000004 must round up to 20, not 21.
_EPSILON = 1e-9
# Tail of the truncated Erlang A chain, relative to the mass so far.
_TAIL = 1e-15
MAX_AGENTS = 100_000


def _ceil(value: float) -> int:
    return math.ceil(value - _EPSILON)


def _check(traffic: float, agents: int) -> None:
    if traffic < 0 or math.isnan(traffic):
        raise ValueError(f"traffic must be ≥ 0, got {traffic!r}")
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
        raise ValueError(f"agents must be an integer ≥ 0, got {agents!r}")


def traffic_intensity(calls: float, interval: float, aht: float) -> float:
    """Offered load in Erlangs: ``calls`` arriving over ``interval``, each held ``aht``."""
    if interval <= 0:
        raise ValueError("interval must be > 0")
    return calls / interval * aht


# --- Erlang B and C --------------------------------------------------------------------------


def erlang_b(traffic: float, servers: int) -> float:
    """Blocking probability of an M/M/N/N system (lost calls cleared)."""
    _check(traffic, servers)
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def wait_probability(traffic: float, agents: int) -> float:
    """Erlang C: the probability that a caller has to wait (1 when ``traffic ≥ agents``)."""
    _check(traffic, agents)
    if traffic == 0:
        return 0.0
    if traffic >= agents:
        return 1.0
    blocking = erlang_b(traffic, agents)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(traffic: float, agents: int, aht: float, target: float) -> float:
    """Erlang C: the share of callers answered within ``target`` (0 when overloaded)."""
    if traffic >= agents and traffic > 0:
        return 0.0
    waits = wait_probability(traffic, agents)
    if waits == 0:
        return 1.0
    return 1.0 - waits * math.exp(-(agents - traffic) * target / aht)


def average_speed_of_answer(traffic: float, agents: int, aht: float) -> float:
    """Erlang C: the mean wait over all callers (``inf`` when overloaded)."""
    if traffic == 0:
        return 0.0
    if traffic >= agents:
        return math.inf
    return wait_probability(traffic, agents) * aht / (agents - traffic)


def occupancy(traffic: float, agents: int) -> float:
    """Share of agent time on calls, ``A / N`` (capped at 1: nobody works more than all the time)."""
    _check(traffic, agents)
    if traffic == 0:
        return 0.0
    if agents == 0:
        return 1.0
    return min(1.0, traffic / agents)


@dataclass(frozen=True)
class Staffing:
    """How many agents a target needs, and what they achieve."""

    raw_agents: int  # on the phones in the interval
    rostered: int  # seats to roster once shrinkage (breaks, training, absence) is allowed for
    service_level: float
    wait_probability: float
    asa: float
    occupancy: float
    abandon_probability: float = 0.0


def _rostered(agents: int, shrinkage: float) -> int:
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    return _ceil(agents / (1 - shrinkage))


def _check_targets(target_sl: float, max_occupancy: float) -> None:
    if not 0 <= target_sl <= 1:
        raise ValueError("target service level must be in [0, 1]")
    if not 0 < max_occupancy <= 1:
        raise ValueError("max occupancy must be in (0, 1]")


def erlang_c_staffing(
    traffic: float,
    aht: float,
    target: float,
    target_sl: float,
    *,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """The smallest ``N > A`` with ``SL(target) ≥ target_sl``, then occupancy and shrinkage.

    No traffic needs no agents (``raw_agents == 0``).
    """
    _check(traffic, 0)
    _check_targets(target_sl, max_occupancy)
    if traffic == 0:
        return Staffing(0, 0, 1.0, 0.0, 0.0, 0.0)
    agents = max(1, math.floor(traffic) + 1)
    while service_level(traffic, agents, aht, target) < target_sl:
        agents += 1
        if agents > MAX_AGENTS:
            raise ValueError("no staffing up to MAX_AGENTS meets the target")
    if traffic / agents > max_occupancy:
        agents = _ceil(traffic / max_occupancy)
    return Staffing(
        raw_agents=agents,
        rostered=_rostered(agents, shrinkage),
        service_level=service_level(traffic, agents, aht, target),
        wait_probability=wait_probability(traffic, agents),
        asa=average_speed_of_answer(traffic, agents, aht),
        occupancy=occupancy(traffic, agents),
    )


# --- Erlang A ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErlangA:
    """Steady-state figures of an M/M/N+M queue (Erlang A)."""

    agents: int
    wait_probability: float  # an arriving caller finds every agent busy
    abandon_probability: float  # an arriving caller hangs up before being answered
    asa: float  # mean time in queue over all callers, Lq / λ (abandoners' waits included)
    queue_length: float  # Lq
    occupancy: float  # answered load / N
    # The stationary distribution p[n] (n callers in the system), kept for the service level.
    distribution: tuple[float, ...]


def _distribution(arrival_rate: float, aht: float, patience: float, agents: int) -> list[float]:
    mu, theta = 1.0 / aht, 1.0 / patience
    probabilities, total, n = [1.0], 1.0, 0
    while True:
        n += 1
        death = min(n, agents) * mu + max(n - agents, 0) * theta
        term = probabilities[-1] * arrival_rate / death
        probabilities.append(term)
        total += term
        if n > agents and term < _TAIL * total:
            break
        if n > agents + 10 * MAX_AGENTS:
            raise ValueError("Erlang A chain does not converge")
        if term > 1e250:  # keep heavy loads finite: only the ratios matter
            probabilities = [p / 1e250 for p in probabilities]
            total /= 1e250
    return [p / total for p in probabilities]


def erlang_a(arrival_rate: float, aht: float, patience: float, agents: int) -> ErlangA:
    """Erlang A figures for ``agents`` agents (``patience`` is the callers' mean patience)."""
    _check(arrival_rate, agents)
    if aht <= 0 or patience <= 0:
        raise ValueError("aht and patience must be > 0")
    if arrival_rate == 0:
        return ErlangA(agents, 0.0, 0.0, 0.0, 0.0, 0.0, (1.0,))
    p = _distribution(arrival_rate, aht, patience, agents)
    waits = sum(p[agents:])
    queue = sum((n - agents) * p[n] for n in range(agents, len(p)))
    abandons = min(1.0, queue / patience / arrival_rate)
    answered_load = arrival_rate * (1 - abandons) * aht
    busy = 1.0 if agents == 0 else min(1.0, answered_load / agents)
    return ErlangA(agents, waits, abandons, queue / arrival_rate, queue, busy, tuple(p))


def _served_within(agents: int, aht: float, patience: float, ahead_max: int, target: float) -> list[float]:
    """``G[j]``: P(a caller with ``j`` callers ahead in the queue is answered within ``target``).

    The tagged caller moves up one place at rate ``N·μ + j·θ`` (an agent frees up or someone
    ahead hangs up), is answered from the head at rate ``N·μ``, and hangs up at rate ``θ``.
    Uniformization with rate Λ: ``G = Σ_k Poisson(k; Λt)·S_k``, where ``S_k[j]`` is the chance
    of being answered within ``k`` steps of the discrete chain, computed for every ``j`` at once
    (``S_k[j]`` only needs ``S_{k−1}[j]`` and ``S_{k−1}[j−1]``).
    """
    mu, theta = 1.0 / aht, 1.0 / patience
    rate = agents * mu + ahead_max * theta + theta
    lam_t = rate * target
    served = [0.0] * (ahead_max + 1)
    if target <= 0 or agents == 0:
        return served
    advance = [(agents * mu + j * theta) / rate for j in range(ahead_max + 1)]
    stay = [1.0 - advance[j] - theta / rate for j in range(ahead_max + 1)]
    steps = int(lam_t + 12 * math.sqrt(lam_t) + 50)
    # Poisson weights computed in log space (e^{-Λt} underflows for large Λt).
    log_weight = -lam_t
    result = [0.0] * (ahead_max + 1)
    for k in range(1, steps + 1):
        previous = served
        served = [advance[0] + stay[0] * previous[0]]
        for j in range(1, ahead_max + 1):
            served.append(advance[j] * previous[j - 1] + stay[j] * previous[j])
        log_weight += math.log(lam_t / k)
        weight = math.exp(log_weight)
        for j in range(ahead_max + 1):
            result[j] += weight * served[j]
    # Remaining Poisson mass beyond ``steps`` is negligible (12 standard deviations).
    return result


def erlang_a_service_level(
    arrival_rate: float,
    aht: float,
    patience: float,
    agents: int,
    target: float,
    figures: ErlangA | None = None,
) -> float:
    """Share of all callers answered within ``target`` (callers who hang up first are not)."""
    figures = figures or erlang_a(arrival_rate, aht, patience, agents)
    p = figures.distribution
    if arrival_rate == 0:
        return 1.0
    # PASTA: an arriving caller sees the stationary distribution.
    immediate = sum(p[:agents])
    if len(p) <= agents:
        return immediate
    within = _served_within(agents, aht, patience, len(p) - 1 - agents, target)
    delayed = sum(p[n] * within[n - agents] for n in range(agents, len(p)))
    return min(1.0, immediate + delayed)


def erlang_a_staffing(
    arrival_rate: float,
    aht: float,
    patience: float,
    target: float,
    target_sl: float,
    *,
    max_abandon: float = 1.0,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """The smallest ``N`` meeting the service level, the abandonment cap and the occupancy cap."""
    _check(arrival_rate, 0)
    _check_targets(target_sl, max_occupancy)
    if not 0 <= max_abandon <= 1:
        raise ValueError("max abandonment must be in [0, 1]")
    if arrival_rate == 0:
        return Staffing(0, 0, 1.0, 0.0, 0.0, 0.0, 0.0)

    def meets(agents: int) -> tuple[ErlangA, float] | None:
        figures = erlang_a(arrival_rate, aht, patience, agents)
        # Only answered callers can be answered in time: SL ≤ 1 − P(abandon), a cheap pre-check.
        if (
            figures.abandon_probability > max_abandon
            or figures.occupancy > max_occupancy
            or 1 - figures.abandon_probability < target_sl
        ):
            return None
        achieved = erlang_a_service_level(arrival_rate, aht, patience, agents, target, figures)
        return (figures, achieved) if achieved >= target_sl else None

    # Every figure improves with more agents, so the smallest N that meets them all is found by
    # doubling then bisecting (a linear search from 1 costs seconds at a thousand agents).
    low, high = 0, 1
    found = meets(high)
    while found is None:
        low, high = high, high * 2
        if high > MAX_AGENTS:
            raise ValueError("no staffing up to MAX_AGENTS meets the target")
        found = meets(high)
    while high - low > 1:
        middle = (low + high) // 2
        result = meets(middle)
        if result is None:
            low = middle
        else:
            high, found = middle, result
    agents = high
    figures, achieved = found
    return Staffing(
        raw_agents=agents,
        rostered=_rostered(agents, shrinkage),
        service_level=achieved,
        wait_probability=figures.wait_probability,
        asa=figures.asa,
        occupancy=figures.occupancy,
        abandon_probability=figures.abandon_probability,
    )
