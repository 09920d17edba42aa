"""Median per-call latency of the three tools, as a ratio to a no-op tool on the same SDK and transport.

Both transports are measured the way clients use them: the official client talking to a
server subprocess over stdio, and over streamable HTTP on 127.0.0.1. The no-op tool is
measured in the same run, interleaved with the real calls, so machine noise hits both.

Run: make bench   (or python -m bench.tool_latency --calls 300)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.support.servers import free_port, wait_until_serving

ACV_Q2 = {"new_logo_contract_value": 1_000_000, "new_customers_signed": 20}
ACV_Q3 = {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20}


@asynccontextmanager
async def stdio_client() -> AsyncIterator[Client]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "bench.noop_server", "stdio"])
    async with Client(params) as client:
        yield client


@asynccontextmanager
async def http_client() -> AsyncIterator[Client]:
    port = free_port()
    process = await anyio.open_process([sys.executable, "-m", "bench.noop_server", "http", str(port)])
    try:
        await anyio.to_thread.run_sync(wait_until_serving, port)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            yield client
    finally:
        process.terminate()
        await process.wait()


async def _acv(client: Client, inputs: dict[str, int], period: str) -> dict[str, Any]:
    result = await client.call_tool(
        "compute_kpi", {"kpi": "sales.avg_contract_value", "inputs": inputs, "period": period, "currency": "USD"}
    )
    assert result.structured_content is not None and not result.is_error
    return result.structured_content


async def measure(client: Client, calls: int) -> dict[str, float]:
    q2 = await _acv(client, ACV_Q2, "2026-Q2")
    q3 = await _acv(client, ACV_Q3, "2026-Q3")
    workloads: dict[str, tuple[str, dict[str, Any]]] = {
        "noop": ("noop", {}),
        "lookup_kpi": ("lookup_kpi", {"query": "ACV"}),
        "compute_kpi": (
            "compute_kpi",
            {"kpi": "sales.avg_contract_value", "inputs": ACV_Q3, "period": "2026-Q3", "currency": "USD"},
        ),
        "compare_metrics": ("compare_metrics", {"left": q3, "right": q2}),
    }
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    for round_ in range(calls + 20):
        for name, (tool, arguments) in workloads.items():
            started = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            elapsed = time.perf_counter() - started
            assert not result.is_error, result.content
            if round_ >= 20:  # warm-up rounds are not counted
                samples[name].append(elapsed)
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


async def run(calls: int) -> None:
    print(f"median latency per call, ms ({calls} calls each, interleaved); ratio = tool ÷ no-op")
    print(f"{'transport':<10}{'tool':<18}{'median ms':>10}{'ratio':>8}")
    for transport, opener in (("stdio", stdio_client), ("http", http_client)):
        async with opener() as client:
            medians = await measure(client, calls)
        base = medians["noop"]
        for name, value in medians.items():
            print(f"{transport:<10}{name:<18}{value:>10.2f}{value / base:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    anyio.run(run, args.calls)


if __name__ == "__main__":
    main()
