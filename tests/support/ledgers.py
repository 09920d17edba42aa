"""Ledger rows for tests: one valid contract line, any field overridden."""

from __future__ import annotations

from typing import Any


def line(**fields: Any) -> dict[str, Any]:
    """A valid recurring yearly line of contract C1 / account A1, signed and live on 2026-01-01; override any field."""
    row: dict[str, Any] = {
        "contract_id": "C1",
        "account_id": "A1",
        "charge_type": "recurring",
        "amount": "12000",
        "amount_period": "year",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "signed_date": "2026-01-01",
        "currency": "USD",
        "change_type": "new",
    }
    row.update(fields)
    return row


def yearly_line(
    account: str, contract: str, amount: str, start: str, end: str, segment: str, **more: str
) -> dict[str, Any]:
    """A yearly recurring line of one segment, signed on its start date unless `more` says otherwise."""
    fields = {"signed_date": start, **more}
    return line(
        account_id=account,
        contract_id=contract,
        amount=amount,
        start_date=start,
        end_date=end,
        segment=segment,
        **fields,
    )


def fiscal_ledger() -> list[dict[str, Any]]:
    """Three yearly accounts placed so that a February fiscal quarter and a calendar quarter disagree.

    A1 12,000 from 2025-01-01 to 2027-12-31; A3 3,000 from 2026-06-01 to 2027-05-31; A2 6,000 from 2026-10-15
    (after the calendar Q3 close, before the fiscal Q3 close of 31 October 2026).
    """
    return [
        line(
            account_id="A1",
            contract_id="C1",
            amount="12000",
            start_date="2025-01-01",
            end_date="2027-12-31",
            signed_date="2024-12-15",
        ),
        line(
            account_id="A3",
            contract_id="C3",
            amount="3000",
            start_date="2026-06-01",
            end_date="2027-05-31",
            signed_date="2026-05-20",
        ),
        line(
            account_id="A2",
            contract_id="C2",
            amount="6000",
            start_date="2026-10-15",
            end_date="2027-10-14",
            signed_date="2026-10-01",
        ),
    ]
