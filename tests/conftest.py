import os

from hypothesis import HealthCheck, settings

# Deterministic, example-bounded Hypothesis profile: CrypTen runs are ~0.1-1 s each.
settings.register_profile("privmoe", max_examples=int(os.environ.get("PRIVMOE_EXAMPLES", "8")), deadline=None,
                          derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
settings.load_profile("privmoe")
