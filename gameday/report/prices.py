"""What an EC2 instance costs to run: a small table of on-demand prices, for estimates only.

The prices are the public on-demand list prices per hour of Linux instances in US East
(N. Virginia), rounded to the cent or so; most other regions charge more, Spot less. The
reports use them to say roughly what the attacker's instances still cost, and always say
"estimate": no bill is read, nothing here is fetched.
"""

from __future__ import annotations

PRICE_BASIS = "on-demand list price per hour, Linux, US East (N. Virginia)"

# USD per instance-hour.
ON_DEMAND_USD_PER_HOUR: dict[str, float] = {
    # GPU instances, what miners and model abusers ask for
    "p2.xlarge": 0.90,
    "p2.8xlarge": 7.20,
    "p2.16xlarge": 14.40,
    "p3.2xlarge": 3.06,
    "p3.8xlarge": 12.24,
    "p3.16xlarge": 24.48,
    "p3dn.24xlarge": 31.212,
    "p4d.24xlarge": 32.7726,
    "p5.48xlarge": 98.32,
    "g3.16xlarge": 4.56,
    "g4dn.xlarge": 0.526,
    "g4dn.2xlarge": 0.752,
    "g4dn.4xlarge": 1.204,
    "g4dn.8xlarge": 2.176,
    "g4dn.12xlarge": 3.912,
    "g4dn.16xlarge": 4.352,
    "g5.xlarge": 1.006,
    "g5.12xlarge": 5.672,
    "g5.48xlarge": 16.288,
    # large CPU instances
    "c5.24xlarge": 4.08,
    "c5.large": 0.085,
    "c6i.32xlarge": 5.44,
    "m5.large": 0.096,
    "m5.24xlarge": 4.608,
    "x1e.32xlarge": 26.688,
    # the small ones an estate runs
    "t2.micro": 0.0116,
    "t3.micro": 0.0104,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
}


def hourly_price(instance_type: str) -> float | None:
    """USD per hour for one instance of the type, or None when the table does not know it."""
    return ON_DEMAND_USD_PER_HOUR.get(instance_type)
