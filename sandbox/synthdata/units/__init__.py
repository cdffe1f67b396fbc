"""Observation models of the source units and the platform, in the order the generator writes them."""

from sandbox.synthdata.units import court, customs, housing_fund, ip, social_insurance, tax, utilities

SOURCE_UNITS = (tax, social_insurance, housing_fund, utilities, customs, ip, court)

__all__ = ["SOURCE_UNITS"]
