"""The penalty ladder: from a verdict and the author's prior strikes to a sanction."""
