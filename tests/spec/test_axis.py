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
        ("alpha", {"linear": [1, 2]}, "must be"),
        ("alpha", {"log": [0, 2]}, "bounds > 0"),
        ("learning_rate", {"log": [-1e-3, 0.1]}, "bounds > 0"),
        ("learning_rate", {"log": [0.1, 0.01]}, "low < high"),
        ("learning_rate", {"log": [0.1]}, "two values"),
        ("batch_size", {"log": [1, 64]}, "not a continuous log range"),
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


def test_a_log_range_is_continuous_and_written_back_as_given():
    axis = parse_axis({"log": [1e-4, 0.1]}, "learning_rate")
    assert axis.continuous and (axis.lower, axis.upper) == (1e-4, 0.1)
    assert axis.model_dump() == {"log": [1e-4, 0.1]}
    with pytest.raises(ValueError, match="no discrete values"):
        axis.resolve(100)
