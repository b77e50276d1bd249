"""How the prompt-based estimates of several calls become one listen start."""
from ivrkit.trees.waits import estimate_listen_after


def test_two_calls_that_disagree_trust_the_earlier():
    # call02's recognizer lost "To hear your balance," so its first call to action
    # is the "press 1" that followed; call01 heard the clause from its start
    assert estimate_listen_after(["call01.wav@0 prompt", "call02.wav@1.23 prompt"]) == 0.0


def test_two_calls_that_agree_and_more_calls_take_the_median():
    assert abs(estimate_listen_after(["a@5.2 prompt", "b@5.6 prompt"]) - 5.4) < 1e-9
    assert estimate_listen_after(["a@0 prompt", "b@1.3 prompt", "c@1.4 prompt"]) == 1.3


def test_presses_still_bound_the_estimate():
    # an ignored press at 2.0 s says it was not listening before then
    assert estimate_listen_after(["a@0 prompt", "b@1.23 prompt", "a@2.0 ignored"]) == 2.0
