"""The one SNR driver (impl.estimators.snr.estimate_snr) and its result type, on small memories."""

import math

import pytest

from impl.estimators.snr import estimate_snr
from impl.estimators.stats import mean_interval
from impl.memories.catalog import make
from impl.memories.kernel import KernelMemory, PerformerMemory
from impl.memories.linear import LinearMemory
from impl.memories.memory import CONVENTIONS, SNRResult
from impl.numerics.errors import InputError


def test_result_interval_round_trips_and_inside_compares_exact_with_the_interval():
    e = mean_interval([1.0, 2.0, 4.0, 8.0], alpha=0.01)
    r = SNRResult.measured(e, exact=3.0, method="plain")
    assert r.interval() == e and r.se == e.se and r.dof == 3
    assert r.inside is (e.lo <= 3.0 <= e.hi)
    assert SNRResult.measured(e, exact=e.hi * 2, method="plain").inside is False
    assert SNRResult(note="not estimated").inside is None and not SNRResult().estimated


def test_every_convention_is_reported_once_in_the_order_asked():
    res = estimate_snr(LinearMemory(), 16, 8, 8, 20, 3, conventions=("typical", "conditional"))
    assert list(res) == ["typical", "conditional"]
    every = estimate_snr(LinearMemory(), 16, 8, 8, 20, 3)
    assert list(every) == list(CONVENTIONS) and all(r.estimated for r in every.values())
    assert "cos" in every.extra  # the all-probe trials ran


def test_a_convention_the_memory_does_not_define_is_listed_after_the_defined_ones():
    res = estimate_snr(PerformerMemory("positive", tau=8.0, m=4), 8, 4, 4, 20, 0)
    assert list(res) == ["conditional", "typical", "probe_averaged", "ratio_of_expectations"]
    assert res["probe_averaged"].method == "none" and "not defined" in res["probe_averaged"].note
    with pytest.raises(InputError) as err:
        estimate_snr(PerformerMemory("positive", tau=8.0, m=4), 8, 4, 4, 20, 0, conventions=("probe_averaged",))
    assert err.value.parameter == "convention"


@pytest.mark.parametrize("kw, name", [
    (dict(conventions=("median",)), "convention"), (dict(sampler="magic"), "mode"),
    (dict(sampler="importance"), "mode"), (dict(alpha=0.7), "alpha"), (dict(trials=1), "trials"),
])
def test_bad_requests_name_the_parameter(kw, name):
    args = dict(n_pairs=8, d_k=4, d_v=4, trials=10, seed=0)
    args.update(kw)
    with pytest.raises(InputError) as err:
        estimate_snr(KernelMemory("relu"), **args)
    assert err.value.parameter == name


def test_a_divergent_convention_is_not_estimated_unless_it_is_all_that_was_asked():
    exp = KernelMemory("exp", tau=2.0)
    res = estimate_snr(exp, 8, 6, 8, 20, 0)
    assert res["ratio_of_expectations"].estimate is None and "tau > 4" in res["ratio_of_expectations"].note
    with pytest.raises(InputError) as err:
        estimate_snr(exp, 8, 6, 8, 20, 0, conventions=("ratio_of_expectations",))
    assert err.value.parameter == "tau"


def test_the_catalogue_builds_each_memory_by_its_command_line_name():
    assert isinstance(make("linear"), LinearMemory)
    assert make("kernel", kernel="exp", tau=2.0).parameters() == {"tau": 2.0}
    assert make("kernel", kernel="performer_trig", tau=4.0, m=3).parameters() == {"tau": 4.0, "m": 3}
    assert make("ffn", activation="gelu").title() == "FFN memory, activation gelu"
    with pytest.raises(InputError) as err:
        make("hopfield")
    assert err.value.parameter == "memory"


def test_exact_values_agree_across_the_linear_memory_and_the_linear_kernel():
    """Two constructions of the same memory: LinearMemory's own closed forms and the kernel moments of kappa = x^T y."""
    lin, ker = LinearMemory(), KernelMemory("linear")
    for conv in CONVENTIONS:
        probe = dict(kappa=5.0, nu=3.0) if conv == "conditional" else {}
        a = lin.exact(conv, 40, 9, 7, **probe)
        b = ker.exact(conv, 40, 9, 7, **probe)
        assert math.isclose(a, b, rel_tol=1e-12), conv


def test_a_user_memorys_divergent_convention_asked_alone_is_refused_naming_the_convention():
    """Memory.refuse (memories without their own refusal): probe-averaged at d_v = 2 needs E[1/chi^2_2], infinite."""
    from impl.memories.user import FeatureMapMemory

    mem = FeatureMapMemory("t:identity", lambda x: x, 4)
    with pytest.raises(InputError, match=r"^convention: the probe_averaged SNR\^-1 of the feature map t:identity memory "
                                         r"is infinite here: needs d_v > 2 \(E\[1/chi\^2_\{d_v\}\]"):
        estimate_snr(mem, 8, 4, 2, 20, 0, conventions=("probe_averaged",))
    res = estimate_snr(mem, 8, 4, 2, 20, 0, conventions=("probe_averaged", "ratio_of_expectations"))
    assert res["probe_averaged"].estimate is None and "d_v > 2" in res["probe_averaged"].note


def test_each_memory_reports_the_parameters_it_was_built_with():
    """parameters() is what the JSON output and the report print beside a result: the constructor's values, by the
    command-line names."""
    from impl.memories.ffn import FFNMemory
    from impl.memories.kernel import SphereMemory
    from impl.memories.multihead import MultiHeadLinearMemory

    assert SphereMemory(1.5).parameters() == {"b": 1.5}
    assert MultiHeadLinearMemory(4).parameters() == {"h": 4}
    assert FFNMemory("silu").parameters() == {"activation": "silu"}
    assert make("kernel", kernel="performer_positive", tau=3.0, m=5).parameters() == {"tau": 3.0, "m": 5}
