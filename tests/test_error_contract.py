"""The bad-input contract that conftest.py installs on InputError (tests/error_contract.py): it accepts every form of
parameter name the code uses and refuses the broken ones a raise site could be changed into."""

import pytest

import error_contract
from impl.numerics.errors import InputError, require_positive_int


@pytest.mark.parametrize("parameter", ["n_pairs", "--n-pairs", "--n-pairs/--d-k/--d-v", "adapter.scale", "JOB", "PATH",
                                       "d_k", "g", "--max-examples"])
def test_real_names_pass(parameter):
    assert error_contract.problems(parameter, "must be an integer >= 1, got 0") == []
    assert InputError(parameter, "must be positive").parameter == parameter


@pytest.mark.parametrize("parameter", [None, "", "  ", "XXn_pairsXX", "N_PAIRS", "--XX-n-pairs", "n_pairs/XXd_kXX", "-"])
def test_names_of_nothing_are_refused(parameter):
    assert error_contract.problems(parameter, "must be positive")
    with pytest.raises(TypeError, match="bad-input contract"):
        InputError(parameter, "must be positive")


@pytest.mark.parametrize("message", [None, "", "must be\npositive", 3])
def test_messages_of_nothing_or_several_lines_are_refused(message):
    assert error_contract.problems("n_pairs", message)
    with pytest.raises(TypeError, match="bad-input contract"):
        InputError("n_pairs", message)


def test_a_raise_site_naming_nothing_fails_its_test():
    with pytest.raises(TypeError, match="bad-input contract"):
        require_positive_int(None, 0)
    with pytest.raises(InputError, match=r"^n_pairs: must be an integer >= 1, got 0$"):
        require_positive_int("n_pairs", 0)


def test_names_come_from_syntax_and_the_parser_not_from_string_literals():
    names = error_contract.code_names()
    assert {"n_pairs", "d_k", "trials"} <= names
    assert "XXn_pairsXX" not in names and "must" not in names
    assert {"n_pairs", "JOB", "max_examples", "N"} <= error_contract.cli_names()
    assert error_contract.identifiers("--n-pairs/--d-k") == ["n_pairs", "d_k"]
    assert error_contract.identifiers("adapter.scale") == ["adapter", "scale"]
