"""Switches only `scripts/bench` sets, kept out of the production settings (rxapp/settings.py).

- `APIKEYS_BENCH_NOOP=1`: serve `POST /api/v1/noop`, the benchmark's ceiling (never in a real
  console);
- `APIKEYS_BENCH_USAGE_OFF=1`: usage counting switched off, to measure what counting costs verify.

Only the exact value `1` turns a switch on. Read once, by rxapp/rxapp.py when the app is built (the
hooks: `rxapp.api.serve_benchmark_noop`, `UsageBuffer.switch_off_for_benchmark`). A low module: it
imports nothing from the app.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _exactly_one(value: Any) -> Any:
    return value.strip() == "1" if isinstance(value, str) else value


Switch = Annotated[bool, BeforeValidator(_exactly_one)]


class BenchSwitches(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)

    noop: Switch = Field(False, validation_alias="APIKEYS_BENCH_NOOP")
    usage_off: Switch = Field(False, validation_alias="APIKEYS_BENCH_USAGE_OFF")
