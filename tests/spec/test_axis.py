import pytest

from leantune.spec._axis import parse_axis


def test_pow2_up_to_max_stops_at_the_largest_power_of_two_in_the_fold():
    axis = parse_axis({"pow2": [1, "max"]}, "batch_size")
    assert axis.resolve(300) == [2, 4, 8, 16, 32, 64, 128, 256]
    assert axis.resolve(256) == [2, 4, 8, 16, 32, 64, 128, 256]


def test_pow10_range_includes_both_exponents():
    axis = parse_axis({"pow10": [-4, -1]}, "learning_rate")
    assert axis.resolve(100) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])


def test_explicit_lists_work_on_every_axis():
    assert parse_axis([8, 32], "batch_size").resolve(100) == [8, 32]
    assert parse_axis([0.0, 0.01], "alpha").resolve(100) == [0.0, 0.01]
    assert parse_axis(0.05, "learning_rate").resolve(100) == [0.05]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("batch_size", [], "empty list"),
        ("batch_size", [0], "positive integers"),
        ("batch_size", [2.5], "positive integers"),
        ("batch_size", [True], "positive integers"),
        ("batch_size", {"pow10": [0, 2]}, "pow2 ranges only"),
        ("batch_size", {"pow2": [-1, 3]}, ">= 0"),
        ("learning_rate", [0.0], "positive numbers"),
        ("learning_rate", {"pow10": [-1, -4]}, "low <= high"),
        ("learning_rate", {"pow10": [-4, "max"]}, "'max' is only allowed"),
        ("learning_rate", {"pow10": [-4.5, -1]}, "integers"),
        ("alpha", [-0.1], ">= 0"),
        ("alpha", [0.1, 0.1], "twice"),
        ("alpha", {"log": [1, 2]}, "must be"),
        ("alpha", "small", "must be"),
    ],
)
def test_bad_axes_say_what_is_allowed_and_what_was_given(name, value, expected):
    with pytest.raises(ValueError, match=expected) as error:
        parse_axis(value, name)
    assert "got" in str(error.value)


def test_an_axis_serializes_back_to_what_a_user_writes():
    assert parse_axis({"pow2": [1, "max"]}, "batch_size").model_dump() == {"pow2": [1, "max"]}
    assert parse_axis([2, 4], "batch_size").model_dump() == [2, 4]
