"""The README's minimal strategy, taken from the README itself, runs in the engine: loaded by
`strategy.class`, it quotes both sides at the simulated venue."""

from __future__ import annotations

import asyncio
import re
import sys
import types
from pathlib import Path

from engine.app import Engine
from engine.config import ConfigStore, load_config
from engine.sim.component import SimulatorComponent

README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_strategy() -> str:
    text = README.read_text(encoding="utf-8")
    after = text[text.index("A minimal strategy of your own") :]
    match = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert match is not None, "README lost its minimal strategy"
    return match.group(1)


async def test_the_readme_strategy_quotes_both_sides(tmp_path: Path) -> None:
    module = types.ModuleType("readme_strategy")
    exec(compile(_readme_strategy(), "README.md", "exec"), module.__dict__)
    sys.modules["readme_strategy"] = module
    path = tmp_path / "engine.toml"
    path.write_text(
        f"""
[system]
log_level = "warning"
log_dir = "{tmp_path / "log"}"
state_dir = "{tmp_path / "state"}"

[strategy]
enabled = true
class = "readme_strategy:Joiner"
status_interval_s = 0

[venues.binance]
enabled = true
simulated = true
symbols = ["BTCUSDT"]
key_source = "none"
"""
    )
    engine = Engine(ConfigStore(load_config(path, environ={})), config_path=path)
    run = asyncio.create_task(engine.run(console_log=False))
    sides: set[int] = set()
    try:
        for _ in range(400):
            await asyncio.sleep(0.05)
            sims = [c.sim for c in engine.components if isinstance(c, SimulatorComponent)]
            if sims and sims[0] is not None:
                sim = sims[0]
                found = sim.exchange.account_for_key(sim.api_key)
                assert found is not None
                sides = {int(o.side) for o in sim.exchange.engine.open_orders(found[1])}
                if len(sides) == 2:
                    break
    finally:
        engine.request_stop("test")
        assert await run == 0
    assert sides == {1, -1}, f"the README strategy quoted {sides or 'nothing'}"
    host = engine.host
    assert host is not None and host.guard is not None and host.guard.errors == 0
    del sys.modules["readme_strategy"]
