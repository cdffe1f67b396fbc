"""Public models of the financing statistics."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FiguresOut(BaseModel):
    decisions: int = Field(description="Lending decisions reported.")
    loans: int = Field(description="Decisions that granted a loan.")
    approval_rate: float | None = Field(description="loans / decisions; null without decisions.")
    amount_cny: str = Field(description="Sum of granted amounts, CNY (decimal text).")
    first_loans: int = Field(description="Loans marked as the enterprise's first loan (首贷).")
    first_loan_amount_cny: str
    renewals: int = Field(description="Loans marked as renewals or repeat loans (续贷).")
    renewal_amount_cny: str
    loan_kind_unreported: int = Field(description="Loans whose feedback did not say first loan or renewal.")
    credit_loans: int = Field(description="Loans marked unsecured (信用贷款).")
    credit_amount_cny: str
    secured_loans: int = Field(description="Loans marked secured by collateral, pledge or guarantee.")
    secured_amount_cny: str
    security_unreported: int = Field(description="Loans whose feedback did not say secured or not.")
    average_rate: str | None = Field(description="Amount-weighted mean annual rate of the loans (a fraction).")
    mean_decision_days: float | None = Field(description="Mean days from the score look-up to the decision.")
    median_decision_days: float | None
    enterprises_served: int = Field(description="Distinct enterprises with a loan.")
    first_loan_enterprises: int = Field(description="Enterprises served with a first loan.")
    first_loan_rate: float | None = Field(description="first_loan_enterprises / enterprises_served.")


class GroupOut(BaseModel):
    key: str = Field(description="District code, industry, bank institution id or month (YYYY-MM, UTC+8).")
    figures: FiguresOut


class FinancingOut(BaseModel):
    since: str | None
    until: str | None
    district: str | None
    industry: str | None
    institution_id: str | None = Field(description="The bank the figures are limited to (a bank: always itself).")
    totals: FiguresOut
    by_district: list[GroupOut]
    by_industry: list[GroupOut]
    by_bank: list[GroupOut]
    by_month: list[GroupOut]
