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
